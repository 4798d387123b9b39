//! The fleet a seating test needs: user-service (tokens, JWKS) and seating-service, both real,
//! and a stand-in for catalog-service's `POST /v1/messages` (catalog is not built yet) that
//! records what it receives and can be told to fail.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::HeaderMap;
pub use axum::http::StatusCode;
use axum::routing::post;
use reqwest::Response;
use seating_service::Seating;
use seating_service::db::MIGRATIONS;
use serde_json::{Value, json};
use service_kit::messages::outbox::Relay;
use sqlx::PgPool;
use test_support::UserService;
use tokio::net::TcpListener;
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub users: UserService,
    pub http: reqwest::Client,
    pub pool: PgPool,
    /// order-service's token: holds for anyone, allocations, returns.
    pub service_token: String,
    /// catalog-service's token: inventories and `event.cancelled`.
    pub catalog_token: String,
    pub catalog: CatalogStub,
    pub relay: Relay,
    /// The service's state, to reach what HTTP does not show.
    pub state: seating_service::state::AppState,
    /// The background tasks, when the test runs them ([`TestApp::spawn_running`]).
    pub _tasks: Option<service_kit::tasks::Running>,
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, &[]).await
    }

    /// With its background tasks running (the sweeper, the relay, the seat map's refresher).
    pub async fn spawn_running(pool: PgPool, vars: &[(&str, &str)]) -> Self {
        Self::spawn_inner(pool, vars, true).await
    }

    pub async fn spawn_with(pool: PgPool, vars: &[(&str, &str)]) -> Self {
        Self::spawn_inner(pool, vars, false).await
    }

    async fn spawn_inner(pool: PgPool, vars: &[(&str, &str)], running: bool) -> Self {
        service_kit::db::migrate(&pool, &MIGRATIONS).await.unwrap();
        let users = UserService::start(&pool).await;
        let catalog = CatalogStub::start().await;
        let mut vars_map: Vec<(String, String)> = vec![
            ("USER_SERVICE_URL".into(), users.url.clone()),
            ("CATALOG_SERVICE_URL".into(), catalog.address.clone()),
        ];
        vars_map.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let app = service_kit::app::build::<Seating>(test_support::env(vars_map), pool.clone())
            .await
            .unwrap();
        let tasks = running.then(|| app.start_tasks());
        let address = test_support::serve(app.router).await;
        Self {
            address,
            http: reqwest::Client::new(),
            pool,
            service_token: users.service_token("order-service").await,
            catalog_token: users.service_token("catalog-service").await,
            users,
            catalog,
            relay: app.relay.unwrap(),
            state: app.state,
            _tasks: tasks,
        }
    }

    /// Another relay over the same outbox, as a second replica would run.
    /// Another relay over the same outbox, as a second replica would run (a relay keeps no
    /// state of its own beyond the database).
    pub fn second_relay(&self) -> Relay {
        self.relay.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post(&self, path: &str, body: &Value, token: &str) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.http.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// A registered buyer: (access token, user id).
    pub async fn buyer(&self) -> (String, Uuid) {
        let account = self.users.account("customer").await;
        (account.token, account.id)
    }

    pub async fn put_inventory(&self, event_id: Uuid, body: &Value, token: &str) -> Response {
        self.http
            .put(self.url(&format!("/v1/events/{event_id}/inventory")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// An event on sale with `n` seats in section A (rows of 10) at 50.00 EUR; their ids in order.
    pub async fn event_with_seats(&self, n: usize) -> (Uuid, Vec<Uuid>) {
        let event_id = Uuid::now_v7();
        let seats: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
        let body = inventory(&seats, "50.00");
        let response = self
            .put_inventory(event_id, &body, &self.catalog_token)
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        (event_id, seats)
    }

    pub async fn reserve(
        &self,
        event_id: Uuid,
        seats: &[Uuid],
        holder: Uuid,
        ttl: Option<u64>,
    ) -> Response {
        self.reserve_as(&self.service_token, event_id, seats, holder, ttl)
            .await
    }

    pub async fn reserve_as(
        &self,
        token: &str,
        event_id: Uuid,
        seats: &[Uuid],
        holder: Uuid,
        ttl: Option<u64>,
    ) -> Response {
        let mut body = json!({"eventId": event_id, "seatIds": seats, "holderId": holder});
        if let Some(ttl) = ttl {
            body["ttlSeconds"] = json!(ttl);
        }
        self.post("/v1/seats/reserve", &body, token).await
    }

    /// Holds `seats` for a new holder; the hold id.
    pub async fn held(&self, event_id: Uuid, seats: &[Uuid], ttl: Option<u64>) -> Uuid {
        let response = self.reserve(event_id, seats, Uuid::now_v7(), ttl).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        let hold: Value = response.json().await.unwrap();
        hold["holdId"].as_str().unwrap().parse().unwrap()
    }

    pub async fn allocate(&self, hold_id: Uuid, order_id: Uuid) -> Response {
        self.post(
            "/v1/seats/allocate",
            &json!({"holdId": hold_id, "orderId": order_id}),
            &self.service_token,
        )
        .await
    }

    pub async fn release(&self, hold_id: Uuid, token: &str) -> Response {
        self.post("/v1/seats/release", &json!({"holdId": hold_id}), token)
            .await
    }

    pub async fn return_seats(&self, event_id: Uuid, seats: &[Uuid], order_id: Uuid) -> Response {
        self.post(
            "/v1/seats/return",
            &json!({"eventId": event_id, "seatIds": seats, "orderId": order_id}),
            &self.service_token,
        )
        .await
    }

    /// The status of each seat of the event, by id.
    pub async fn seat_statuses(&self, event_id: Uuid) -> HashMap<Uuid, String> {
        let list: Value = self
            .get(&format!("/v1/seats?eventId={event_id}&limit=100"), None)
            .await
            .json()
            .await
            .unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["seatId"].as_str().unwrap().parse().unwrap(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The status of each seat of the event as the database computes it, in id order (for
    /// when the API cannot answer).
    pub async fn seat_statuses_in_db(&self, event_id: Uuid) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT CASE WHEN sold_order_id IS NOT NULL THEN 'SOLD'
                         WHEN held_until > now() THEN 'HELD' ELSE 'AVAILABLE' END
             FROM seats WHERE event_id = $1 ORDER BY id",
        )
        .bind(event_id)
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    /// Delivers everything due, as the background relay would.
    /// Runs the sweeper's sold-out round (as the kit would within a second), then delivers what
    /// is due.
    pub async fn deliver(&self) -> usize {
        seating_service::sweeper::announce_sold_out(&self.pool)
            .await
            .unwrap();
        let mut total = 0;
        loop {
            let n = self.relay.deliver_batch().await.unwrap();
            total += n;
            if n == 0 {
                return total;
            }
        }
    }

    pub async fn metrics(&self) -> String {
        self.get("/metrics", None).await.text().await.unwrap()
    }
}

/// An inventory body with `seats` in section A, rows of 10.
pub fn inventory(seats: &[Uuid], price: &str) -> Value {
    let seats: Vec<Value> = seats
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({
                "seatId": id,
                "section": "A",
                "row": char::from(b'A' + u8::try_from(i / 10).unwrap()).to_string(),
                "number": i % 10 + 1,
                "price": price,
            })
        })
        .collect();
    json!({"currency": "EUR", "seats": seats})
}

/// What catalog-service's message endpoint would see.
#[derive(Clone)]
pub struct CatalogStub {
    pub address: String,
    pub received: Arc<Mutex<Vec<Value>>>,
    pub failing: Arc<AtomicBool>,
}

impl CatalogStub {
    async fn start() -> Self {
        let stub = Self {
            address: String::new(),
            received: Arc::default(),
            failing: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/v1/messages", post(receive))
            .with_state(stub.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        Self { address, ..stub }
    }

    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn types(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|m| m["type"].as_str().unwrap().to_owned())
            .collect()
    }
}

async fn receive(
    State(stub): State<CatalogStub>,
    headers: HeaderMap,
    axum::Json(message): axum::Json<Value>,
) -> StatusCode {
    assert!(
        headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap().starts_with("Bearer "))
    );
    if stub.failing.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    stub.received.lock().unwrap().push(message);
    StatusCode::ACCEPTED
}

pub use test_support::assert_problem;
