//! The fleet a payment test needs: user-service (tokens, JWKS) and payment-service, both real,
//! with the simulated gateway, whose counters tell what it really charged.

pub use axum::http::StatusCode;
use payment_service::Payments;
use payment_service::db::MIGRATIONS;
use payment_service::gateway::SimulatedGateway;
use payment_service::state::AppState;
use reqwest::Response;
use serde_json::{Value, json};
use sqlx::PgPool;
use test_support::UserService;

use crate::fake_stripe::FakeStripe;
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub users: UserService,
    pub http: reqwest::Client,
    pub pool: PgPool,
    /// A token of order-service, the service that charges and refunds in the fleet.
    pub service_token: String,
    pub state: AppState,
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, &[]).await
    }

    /// The app on the Stripe adapter, pointed at a fake Stripe.
    pub async fn spawn_stripe(pool: PgPool, stripe: &FakeStripe, vars: &[(&str, &str)]) -> Self {
        let mut all = stripe.vars();
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Self::spawn_with(pool, &all).await
    }

    pub async fn spawn_with(pool: PgPool, vars: &[(&str, &str)]) -> Self {
        service_kit::db::migrate(&pool, &MIGRATIONS).await.unwrap();
        let users = UserService::start(&pool).await;
        let mut vars_map: Vec<(String, String)> =
            vec![("USER_SERVICE_URL".into(), users.url.clone())];
        vars_map.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let app = service_kit::app::build::<Payments>(test_support::env(vars_map), pool.clone())
            .await
            .unwrap();
        Self {
            address: test_support::serve(app.router).await,
            http: reqwest::Client::new(),
            pool,
            service_token: users.service_token("order-service").await,
            users,
            state: app.state,
        }
    }

    /// Another replica of payment-service over the same database (or the same one restarted):
    /// its state, with its own gateway object.
    pub async fn replica(&self, vars: &[(&str, &str)]) -> AppState {
        let mut all: Vec<(String, String)> =
            vec![("USER_SERVICE_URL".into(), self.users.url.clone())];
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        service_kit::app::build::<Payments>(test_support::env(all), self.pool.clone())
            .await
            .unwrap()
            .state
    }

    /// One round of the reconciler, as its background task runs it.
    pub async fn reconcile(&self) {
        reconcile(&self.state).await;
    }

    /// Makes every PENDING charge and refund look `by` older, as if time had passed since their
    /// last gateway call.
    pub async fn age_pending(&self, by: std::time::Duration) {
        for table in ["payments", "refunds"] {
            sqlx::query(&format!(
                "UPDATE {table}
                 SET created_at = created_at - $1, attempted_at = attempted_at - $1,
                     checked_at = checked_at - $1
                 WHERE status = 'PENDING'"
            ))
            .bind(by)
            .execute(&self.pool)
            .await
            .unwrap();
        }
    }

    /// The refunds of a payment in the database, oldest first: (status, amount).
    pub async fn stored_refunds(&self, payment: &str) -> Vec<(String, String)> {
        sqlx::query_as(
            "SELECT status, amount::text FROM refunds WHERE payment_id = $1::uuid
             ORDER BY created_at, id",
        )
        .bind(payment)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// A payment as order-service reads it.
    pub async fn payment_now(&self, id: &str) -> Value {
        let response = self.payment(&self.service_token, id).await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// What the simulated gateway did.
    pub fn gateway(&self) -> &SimulatedGateway {
        self.state
            .gateway
            .as_simulated()
            .expect("tests run the simulated gateway")
    }

    /// A registered buyer (a customer): (access token, user id).
    pub async fn buyer(&self) -> (String, Uuid) {
        let account = self.users.account("customer").await;
        (account.token, account.id)
    }

    /// An admin's access token.
    pub async fn admin(&self) -> String {
        self.users.account("admin").await.token
    }

    /// `POST /v1/payments/charge`, with the key when given.
    pub async fn charge(&self, token: &str, key: Option<&str>, body: &Value) -> Response {
        let mut request = self
            .http
            .post(self.url("/v1/payments/charge"))
            .bearer_auth(token)
            .json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.unwrap()
    }

    /// order-service charging on behalf of the buyer whose access token this is (the user id
    /// is the token's `sub`): `userId` is added to the body, and the call carries
    /// order-service's token.
    pub async fn charge_for_buyer(
        &self,
        buyer_token: &str,
        key: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut body = body.clone();
        if body.get("userId").is_none() {
            body["userId"] = json!(subject(buyer_token));
        }
        self.charge(&self.service_token, key, &body).await
    }

    /// `POST /v1/payments/charge` with a body sent as is (malformed JSON).
    pub async fn charge_raw(&self, token: &str, key: &str, body: &str) -> Response {
        self.http
            .post(self.url("/v1/payments/charge"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// order-service charging `amount` EUR for `buyer`'s order with a fresh key.
    pub async fn charge_for(&self, buyer: Uuid, order: Uuid, amount: &str, card: &str) -> Response {
        let mut body = charge_body(order, amount, card);
        body["userId"] = json!(buyer);
        self.charge(&self.service_token, Some(&new_key()), &body)
            .await
    }

    /// A SUCCESS payment of `amount` EUR for `buyer`, made by order-service.
    pub async fn paid(&self, buyer: Uuid, amount: &str) -> Value {
        let response = self
            .charge_for(buyer, Uuid::now_v7(), amount, "tok_visa")
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    /// `POST /v1/payments/{id}/refund`.
    pub async fn refund(&self, token: &str, payment: &str, key: &str, body: &Value) -> Response {
        self.http
            .post(self.url(&format!("/v1/payments/{payment}/refund")))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `GET /v1/payments/{id}`.
    pub async fn payment(&self, token: &str, id: &str) -> Response {
        self.get(&format!("/v1/payments/{id}"), token).await
    }

    /// `GET /v1/payments?{query}`.
    pub async fn payments(&self, token: &str, query: &str) -> Response {
        self.get(&format!("/v1/payments?{query}"), token).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// The stored status of a payment, read from the database.
    pub async fn stored_status(&self, id: &str) -> String {
        sqlx::query_scalar("SELECT status FROM payments WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// The outcomes of the gateway attempts of a payment, oldest first.
    pub async fn attempts(&self, payment: &str) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT outcome FROM gateway_attempts WHERE payment_id = $1::uuid
             ORDER BY created_at, id",
        )
        .bind(payment)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// The payments of an order in the database: (id, status).
    pub async fn payments_of_order(&self, order: Uuid) -> Vec<(Uuid, String)> {
        sqlx::query_as("SELECT id, status FROM payments WHERE order_id = $1 ORDER BY created_at")
            .bind(order)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// One round of the reconciler over a replica's state.
pub async fn reconcile(state: &AppState) {
    payment_service::reconciler::round(state).await.unwrap();
}

/// A charge body in EUR.
pub fn charge_body(order: Uuid, amount: &str, card: &str) -> Value {
    json!({
        "orderId": order,
        "amount": amount,
        "currency": "EUR",
        "method": "card",
        "token": card,
    })
}

pub fn new_key() -> String {
    format!("key-{}", Uuid::now_v7())
}

pub use test_support::assert_problem;

/// Asserts the problem's stable code (the last segment of its `type`).
pub fn assert_code(problem: &Value, code: &str) {
    let type_uri = problem["type"].as_str().unwrap();
    assert!(type_uri.ends_with(&format!("/{code}")), "{problem}");
}

/// The `sub` of an access token (read, not verified: the token is the test's own).
fn subject(token: &str) -> String {
    use base64::Engine;
    let claims = token.split('.').nth(1).unwrap();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .unwrap();
    let claims: Value = serde_json::from_slice(&claims).unwrap();
    claims["sub"].as_str().unwrap().to_owned()
}
