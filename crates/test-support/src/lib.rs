//! What the API tests of every service start, written once: servers on ephemeral ports, a real
//! user-service (the fleet's tokens and JWKS), accounts of any role, and problem assertions.
//!
//! Test code: it panics on anything unexpected, which is how a test fails.

#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

use std::collections::HashMap;

use axum::Router;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use service_kit::config::Env;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::TcpListener;
use uuid::Uuid;

/// The password of every test account.
pub const PASSWORD: &str = "correct horse battery";

/// A listener on an ephemeral port of 127.0.0.1, and its base URL.
pub async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    (listener, address)
}

/// Serves `router` on `listener` until the test ends.
pub fn serve_on(listener: TcpListener, router: Router) {
    tokio::spawn(service_kit::server::serve(
        listener,
        router,
        std::future::pending(),
    ));
}

/// Serves `router` on an ephemeral port; its base URL.
pub async fn serve(router: Router) -> String {
    let (listener, address) = listener().await;
    serve_on(listener, router);
    address
}

/// A configuration source holding exactly `vars`, so tests never touch the process environment.
pub fn env<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Env {
    let map: HashMap<String, String> = vars
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    Env::from_fn(move |k| map.get(k).cloned()).expect("APP_ENV is development or production")
}

/// A pool on the test's database whose tables live in `schema` (created when missing), so that
/// several services, each with its own migrations, can share one fresh test database.
pub async fn schema_pool(pool: &PgPool, schema: &str) -> PgPool {
    sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
        .execute(pool)
        .await
        .unwrap();
    let options = (*pool.connect_options())
        .clone()
        .options([("search_path", schema)]);
    // Idle connections close within a fraction of a second: at the end of the test, sqlx drops
    // the database, and Postgres waits (up to 5 s) for every connection to it to go first.
    PgPoolOptions::new()
        .max_connections(5)
        .min_connections(0)
        .idle_timeout(std::time::Duration::from_millis(100))
        .connect_with(options)
        .await
        .unwrap()
}

/// The URL of another database on the server of `pool`.
pub fn database_url(pool: &PgPool, database: &str) -> String {
    let options: PgConnectOptions = (*pool.connect_options()).clone();
    format!(
        "postgres://{}@{}:{}/{database}",
        options.get_username(),
        options.get_host(),
        options.get_port()
    )
}

/// A real user-service, with its tables in the schema `users` of the test's own database: each
/// test starts from nothing, and the database (and with it the schema) is dropped after the test.
pub struct UserService {
    pub url: String,
    http: reqwest::Client,
    pool: PgPool,
}

/// A logged-in account.
/// The clients user-service knows by default: the other five services.
pub const FLEET_CLIENTS: [&str; 5] = [
    "catalog-service",
    "seating-service",
    "order-service",
    "payment-service",
    "notification-service",
];

/// Asserts that `client`'s token got `allowed` when the contract has it perform `operation`,
/// and `refused` otherwise.
pub fn assert_scoped(
    client: &str,
    operation: &str,
    status: StatusCode,
    permitted: bool,
    allowed: StatusCode,
    refused: StatusCode,
) {
    let expected = if permitted { allowed } else { refused };
    assert_eq!(status, expected, "{client}'s token, {operation}");
}

pub struct Account {
    pub token: String,
    pub id: Uuid,
    pub email: String,
}

impl UserService {
    /// Starts one on an ephemeral port, over the schema `users` of the test's database.
    pub async fn start(pool: &PgPool) -> Self {
        let users_pool = schema_pool(pool, "users").await;
        service_kit::db::migrate(&users_pool, &user_service::db::MIGRATIONS)
            .await
            .unwrap();
        // The tests register many accounts from one address.
        let app = service_kit::app::build::<user_service::Users>(
            env([("REGISTRATIONS_PER_ADDRESS_PER_MINUTE", "0")]),
            users_pool.clone(),
        )
        .await
        .unwrap();
        Self {
            url: serve(app.router).await,
            http: reqwest::Client::new(),
            pool: users_pool,
        }
    }

    /// Every default client's service token, by client id: the five services that call others.
    pub async fn service_tokens(&self) -> Vec<(&'static str, String)> {
        let mut tokens = Vec::new();
        for client in FLEET_CLIENTS {
            tokens.push((client, self.service_token(client).await));
        }
        tokens
    }

    /// A service token for one of the default clients (`order-service`, ...).
    pub async fn service_token(&self, client_id: &str) -> String {
        let token: Value = self
            .http
            .post(format!("{}/v1/auth/service-token", self.url))
            .json(&json!({
                "clientId": client_id,
                "clientSecret": service_kit::config::development_client_secret(client_id),
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        token["accessToken"].as_str().unwrap().to_owned()
    }

    /// A new account with `role` (customer, organizer or admin), logged in.
    pub async fn account(&self, role: &str) -> Account {
        let email = format!("{role}-{}@example.com", Uuid::now_v7());
        let created: Value = self
            .http
            .post(format!("{}/v1/users", self.url))
            .json(&json!({"name": "Test", "email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if role != "customer" {
            // Only an admin may grant roles; the first admin is made in the database.
            sqlx::query("UPDATE users SET role = $1 WHERE email = $2")
                .bind(role)
                .bind(&email)
                .execute(&self.pool)
                .await
                .unwrap();
        }
        Account {
            token: self.login(&email).await,
            id: created["id"].as_str().unwrap().parse().unwrap(),
            email,
        }
    }

    /// Logs `email` in; the access token.
    pub async fn login(&self, email: &str) -> String {
        let pair: Value = self
            .http
            .post(format!("{}/v1/auth/login", self.url))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        pair["accessToken"].as_str().unwrap().to_owned()
    }
}

/// Asserts an RFC 9457 answer with `status`; its body.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    body
}

/// A stand-in for a consumer's `POST /v1/messages` (a service not under test): accepts every
/// message with 202 and keeps it, so a test can read what was delivered.
#[derive(Clone)]
pub struct MessageSink {
    pub url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl MessageSink {
    pub async fn start() -> Self {
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = received.clone();
        let router = Router::new().route(
            "/v1/messages",
            axum::routing::post(move |axum::Json(message): axum::Json<Value>| {
                let keep = keep.clone();
                async move {
                    keep.lock().unwrap().push(message);
                    axum::http::StatusCode::ACCEPTED
                }
            }),
        );
        Self {
            url: serve(router).await,
            received,
        }
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }

    /// The types of the messages received so far, in order.
    pub fn types(&self) -> Vec<String> {
        self.messages()
            .iter()
            .map(|m| m["type"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Fetches `/openapi.json` of the service at `base` and asserts that the kit's audit finds
/// nothing wrong with it (every operation answers something, documents the kit's answers, and
/// sends its errors as problems); returns the document for further checks.
pub async fn assert_openapi_truthful(base: &str) -> Value {
    let doc: Value = reqwest::get(format!("{base}/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let faults = service_kit::openapi::audit(&doc);
    assert!(faults.is_empty(), "OpenAPI faults:\n{}", faults.join("\n"));
    doc
}
