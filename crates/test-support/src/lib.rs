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
    Env::from_fn(move |k| map.get(k).cloned())
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

/// A real user-service. All tests share its database (`ticketing_test_users`): accounts are made
/// with unique e-mails, so tests never meet, and nothing needs cleaning up.
pub struct UserService {
    pub url: String,
    http: reqwest::Client,
    database_url: String,
}

/// A logged-in account.
pub struct Account {
    pub token: String,
    pub id: Uuid,
    pub email: String,
}

impl UserService {
    /// Starts one on an ephemeral port, next to the test's database server.
    pub async fn start(pool: &PgPool) -> Self {
        let database_url = database_url(pool, "ticketing_test_users");
        let users_pool = service_kit::db::connect_and_migrate(
            &database_url.clone().into(),
            5,
            &user_service::startup::MIGRATIONS,
        )
        .await
        .unwrap();
        let config =
            user_service::config::Config::from_env(&mut env::<String, String>([])).unwrap();
        let router = user_service::startup::build(&config, users_pool)
            .await
            .unwrap();
        Self {
            url: serve(router).await,
            http: reqwest::Client::new(),
            database_url,
        }
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
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(&self.database_url)
                .await
                .unwrap();
            sqlx::query("UPDATE users SET role = $1 WHERE email = $2")
                .bind(role)
                .bind(&email)
                .execute(&pool)
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
