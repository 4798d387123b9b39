//! A real user-service on an ephemeral port, over a fresh database, and one method per endpoint.

use std::collections::HashMap;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use service_kit::config::Env;
use sqlx::PgPool;
use tokio::sync::oneshot;
use user_service::Users;
use user_service::db::MIGRATIONS;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub pool: PgPool,
    _shutdown: oneshot::Sender<()>,
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, &[]).await
    }

    /// Starts the app with these environment variables (and no others).
    pub async fn spawn_with(pool: PgPool, vars: &[(&str, &str)]) -> Self {
        service_kit::db::migrate(&pool, &MIGRATIONS)
            .await
            .expect("migrations apply");
        let app = build(vars, pool.clone()).await;
        Self::serve(app, pool).await
    }

    pub async fn serve(app: axum::Router, pool: PgPool) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(service_kit::server::serve(listener, app, async {
            let _ = rx.await;
        }));
        Self {
            address,
            http: reqwest::Client::new(),
            pool,
            _shutdown: tx,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Response {
        let mut request = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn patch(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn register(&self, name: &str, email: &str, password: &str) -> Response {
        self.post(
            "/v1/users",
            &json!({"name": name, "email": email, "password": password}),
            None,
        )
        .await
    }

    /// Registers `email` and returns the user.
    pub async fn registered(&self, email: &str) -> Value {
        let response = self.register("Test User", email, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/v1/auth/login",
            &json!({"email": email, "password": password}),
            None,
        )
        .await
    }

    /// Registers `email` and logs in: the token pair.
    pub async fn signed_up(&self, email: &str) -> Value {
        self.registered(email).await;
        self.logged_in(email, PASSWORD).await
    }

    pub async fn logged_in(&self, email: &str, password: &str) -> Value {
        let response = self.login(email, password).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post(
            "/v1/auth/refresh",
            &json!({"refreshToken": refresh_token}),
            None,
        )
        .await
    }

    pub async fn service_token(&self, client_id: &str, secret: &str) -> Response {
        self.post(
            "/v1/auth/service-token",
            &json!({"clientId": client_id, "clientSecret": secret}),
            None,
        )
        .await
    }

    /// Makes `email` an admin directly in the database and logs in again.
    pub async fn admin_token(&self, email: &str) -> String {
        self.registered(email).await;
        sqlx::query("UPDATE users SET role = 'admin' WHERE email = $1")
            .bind(email)
            .execute(&self.pool)
            .await
            .unwrap();
        access(&self.logged_in(email, PASSWORD).await)
    }
}

/// A configuration of exactly `vars` (registrations unthrottled unless set, as [`build`]).
pub fn test_env(vars: &[(&str, &str)]) -> Env {
    let mut map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    map.entry("REGISTRATIONS_PER_ADDRESS_PER_MINUTE".into())
        .or_insert_with(|| "0".into());
    Env::from_fn(move |k| map.get(k).cloned()).expect("APP_ENV is valid")
}

/// The app as the kit assembles it, with these environment variables (and no others, except
/// that registrations are not throttled unless a test sets the limit: most tests register many
/// accounts from one address).
pub async fn build(vars: &[(&str, &str)], pool: PgPool) -> axum::Router {
    service_kit::app::build::<Users>(test_env(vars), pool)
        .await
        .expect("the app builds")
        .router
}

pub fn access(pair: &Value) -> String {
    pair["accessToken"].as_str().unwrap().to_owned()
}

/// Asserts an RFC 9457 answer with this status, and returns its body.
pub async fn assert_problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(body["type"].as_str().unwrap().starts_with("https://"));
    assert!(body["title"].is_string());
    body
}
