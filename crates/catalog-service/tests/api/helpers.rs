//! The fleet a catalog test needs. catalog-service uses the test's fresh database; seating-service
//! runs beside it in the same database under its own schema (both have `events` and `seats`
//! tables), so each test still starts from nothing and leaves nothing behind; user-service shares
//! a database with the other services' tests (accounts there have unique e-mails). Catalog
//! reaches seating through a [`SeatingProxy`], which forwards everything unless a test tells it
//! to slow down, hold back or fail inventory requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::IntoResponse;

use chrono::Utc;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use service_kit::messages::outbox::Relay;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use test_support::{UserService, env, listener, serve_on};
use tokio::sync::watch;
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    /// The real seating-service (tests call it directly).
    pub seating: String,
    /// What catalog calls seating through.
    pub proxy: SeatingProxy,
    pub users: UserService,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub service_token: String,
    pub relay: Relay,
    pub seating_relay: Relay,
    /// seating-service's tables (schema `seating` of the test database).
    pub seating_pool: PgPool,
    pub state: catalog_service::state::AppState,
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, &[]).await
    }

    pub async fn spawn_with(pool: PgPool, vars: &[(&str, &str)]) -> Self {
        Self::start(pool, vars, None).await
    }

    /// Catalog with a pool of `connections` connections on the test's database, which waits at
    /// most a second for one (a request that waits longer fails).
    pub async fn spawn_with_pool_size(pool: PgPool, connections: u32) -> Self {
        Self::start(pool, &[], Some(connections)).await
    }

    async fn start(pool: PgPool, vars: &[(&str, &str)], connections: Option<u32>) -> Self {
        let users = UserService::start(&pool).await;

        // seating-service in schema `seating` of the test database.
        let seating_pool = test_support::schema_pool(&pool, "seating").await;
        service_kit::db::migrate(&seating_pool, &seating_service::db::MIGRATIONS)
            .await
            .unwrap();
        service_kit::db::migrate(&pool, &catalog_service::db::MIGRATIONS)
            .await
            .unwrap();

        let (seating_listener, seating) = listener().await;
        let (catalog_listener, address) = listener().await;
        let proxy = SeatingProxy::start(&seating).await;
        let mut vars_map: HashMap<String, String> = HashMap::from([
            ("USER_SERVICE_URL".into(), users.url.clone()),
            ("SEATING_SERVICE_URL".into(), proxy.address.clone()),
            ("CATALOG_SERVICE_URL".into(), address.clone()),
        ]);
        vars_map.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let seating_app = service_kit::app::build::<seating_service::Seating>(
            env(vars_map.clone()),
            seating_pool.clone(),
        )
        .await
        .unwrap();
        serve_on(seating_listener, seating_app.router);

        let catalog_pool = match connections {
            None => pool.clone(),
            Some(n) => PgPoolOptions::new()
                .max_connections(n)
                .min_connections(0)
                .acquire_timeout(Duration::from_secs(1))
                .idle_timeout(Duration::from_millis(100))
                .connect_with((*pool.connect_options()).clone())
                .await
                .unwrap(),
        };
        let app = service_kit::app::build::<catalog_service::Catalog>(env(vars_map), catalog_pool)
            .await
            .unwrap();
        serve_on(catalog_listener, app.router);

        Self {
            address,
            seating,
            proxy,
            http: reqwest::Client::new(),
            pool,
            service_token: users.service_token("order-service").await,
            users,
            relay: app.relay.unwrap(),
            seating_relay: seating_app.relay.unwrap(),
            seating_pool,
            state: app.state,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        token: Option<&str>,
    ) -> Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.send(reqwest::Method::GET, path, None, token).await
    }

    pub async fn post(&self, path: &str, body: &Value, token: &str) -> Response {
        self.send(reqwest::Method::POST, path, Some(body), Some(token))
            .await
    }

    /// A registered user with `role`: (token, id).
    pub async fn user(&self, role: &str) -> (String, Uuid) {
        let account = self.users.account(role).await;
        (account.token, account.id)
    }

    pub async fn venue(&self, token: &str, city: &str) -> Uuid {
        let response = self
            .post(
                "/v1/venues",
                &json!({"name": format!("Hall of {city}"), "city": city, "capacity": 500}),
                token,
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let venue: Value = response.json().await.unwrap();
        venue["id"].as_str().unwrap().parse().unwrap()
    }

    /// A draft event in `days` days.
    pub async fn draft(
        &self,
        token: &str,
        venue: Uuid,
        title: &str,
        event_type: &str,
        days: i64,
    ) -> Uuid {
        let response = self
            .post(
                "/v1/events",
                &event_body(venue, title, event_type, days),
                token,
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        let event: Value = response.json().await.unwrap();
        assert_eq!(event["status"], "DRAFT");
        event["id"].as_str().unwrap().parse().unwrap()
    }

    pub async fn put_layout(&self, token: &str, event: Uuid, rows: u32, per_row: u32) -> Response {
        let body = json!({"layout": [{"section": "Stalls", "rows": rows, "seatsPerRow": per_row}]});
        self.send(
            reqwest::Method::PUT,
            &format!("/v1/events/{event}/seats"),
            Some(&body),
            Some(token),
        )
        .await
    }

    pub async fn publish(&self, token: &str, event: Uuid) -> Response {
        self.post(&format!("/v1/events/{event}/publish"), &json!({}), token)
            .await
    }

    /// A published event with `seats` seats.
    pub async fn on_sale(
        &self,
        token: &str,
        venue: Uuid,
        title: &str,
        event_type: &str,
        days: i64,
        seats: u32,
    ) -> Uuid {
        let event = self.draft(token, venue, title, event_type, days).await;
        assert_eq!(
            self.put_layout(token, event, 1, seats).await.status(),
            StatusCode::OK
        );
        let response = self.publish(token, event).await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        event
    }

    pub async fn event(&self, event: Uuid, token: Option<&str>) -> Value {
        self.get(&format!("/v1/events/{event}"), token)
            .await
            .json()
            .await
            .unwrap()
    }

    pub async fn put_seats(&self, token: &str, event: Uuid, body: &Value) -> Response {
        self.send(
            reqwest::Method::PUT,
            &format!("/v1/events/{event}/seats"),
            Some(body),
            Some(token),
        )
        .await
    }

    /// The event's seats as catalog lists them: their ids, in map order.
    pub async fn seat_ids(&self, event: Uuid, token: Option<&str>) -> Vec<Uuid> {
        let seats: Value = self
            .get(&format!("/v1/events/{event}/seats"), token)
            .await
            .json()
            .await
            .unwrap();
        seats["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["seatId"].as_str().unwrap().parse().unwrap())
            .collect()
    }

    /// The event's seats as seating lists them, every page: (seat id, row), or the answer's
    /// status when it has none to show.
    pub async fn seating_seats(&self, event: Uuid) -> Result<Vec<(Uuid, String)>, StatusCode> {
        let mut seats = Vec::new();
        for page in 1.. {
            let response = self
                .http
                .get(format!(
                    "{}/v1/seats?eventId={event}&limit=100&page={page}",
                    self.seating
                ))
                .send()
                .await
                .unwrap();
            if response.status() != StatusCode::OK {
                return Err(response.status());
            }
            let list: Value = response.json().await.unwrap();
            let items = list["items"].as_array().unwrap();
            if items.is_empty() {
                return Ok(seats);
            }
            seats.extend(items.iter().map(|s| {
                (
                    s["seatId"].as_str().unwrap().parse().unwrap(),
                    s["row"].as_str().unwrap().to_owned(),
                )
            }));
        }
        unreachable!("pages run out")
    }

    /// A reserve of `seats` in seating, with a service token.
    pub async fn seating_reserve(&self, event: Uuid, seats: &[Uuid]) -> Response {
        self.seating_post(
            "/v1/seats/reserve",
            &json!({"eventId": event, "seatIds": seats, "holderId": Uuid::now_v7()}),
        )
        .await
    }

    pub async fn seating_post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(format!("{}{path}", self.seating))
            .bearer_auth(&self.service_token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Delivers what is due in both directions.
    pub async fn deliver(&self) {
        // Seating's sweeper notices sold-out events (the kit runs it every second).
        seating_service::sweeper::announce_sold_out(&self.seating_pool)
            .await
            .unwrap();
        for _ in 0..3 {
            while self.relay.deliver_batch().await.unwrap() > 0 {}
            while self.seating_relay.deliver_batch().await.unwrap() > 0 {}
        }
    }
}

pub fn event_body(venue: Uuid, title: &str, event_type: &str, days: i64) -> Value {
    json!({
        "title": title,
        "eventType": event_type,
        "venueId": venue,
        "startsAt": (Utc::now() + chrono::Duration::days(days)).to_rfc3339(),
        "currency": "EUR",
        "basePrice": "40.00",
        "description": "A test event",
    })
}

pub use test_support::assert_problem;

pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Stands between catalog and seating: forwards every request to seating, and lets a test slow
/// down inventory requests (`PUT /v1/events/{id}/inventory`), hold them at a gate, or fail the
/// ones that open an event (`"open": true`) with 503, as a seating in trouble would answer.
#[derive(Clone)]
pub struct SeatingProxy {
    pub address: String,
    seating: String,
    http: reqwest::Client,
    delay_ms: Arc<AtomicU64>,
    fail_open: Arc<AtomicBool>,
    gate: Arc<watch::Sender<bool>>,
    inventories: Arc<AtomicUsize>,
}

impl SeatingProxy {
    async fn start(seating: &str) -> Self {
        let (gate, _) = watch::channel(true);
        let (listener, address) = listener().await;
        let proxy = Self {
            address,
            seating: seating.to_owned(),
            http: reqwest::Client::new(),
            delay_ms: Arc::default(),
            fail_open: Arc::default(),
            gate: Arc::new(gate),
            inventories: Arc::default(),
        };
        let router = axum::Router::new()
            .fallback(forward)
            .with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        proxy
    }

    /// Every inventory request waits this long before it goes on.
    pub fn delay_inventories(&self, delay: Duration) {
        self.delay_ms
            .store(u64::try_from(delay.as_millis()).unwrap(), Ordering::SeqCst);
    }

    /// While set, a request that would open an event answers 503 without reaching seating.
    pub fn fail_opening(&self, failing: bool) {
        self.fail_open.store(failing, Ordering::SeqCst);
    }

    /// While closed, inventory requests wait (after being counted).
    pub fn hold_inventories(&self, held: bool) {
        self.gate.send_replace(!held);
    }

    /// Inventory requests received so far.
    pub fn inventories(&self) -> usize {
        self.inventories.load(Ordering::SeqCst)
    }

    /// Waits until `n` inventory requests have arrived.
    pub async fn wait_for_inventories(&self, n: usize) {
        for _ in 0..500 {
            if self.inventories() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{n} inventory requests never arrived");
    }
}

async fn forward(
    State(proxy): State<SeatingProxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    if method == Method::PUT && uri.path().ends_with("/inventory") {
        proxy.inventories.fetch_add(1, Ordering::SeqCst);
        let delay = proxy.delay_ms.load(Ordering::SeqCst);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let mut gate = proxy.gate.subscribe();
        gate.wait_for(|open| *open).await.unwrap();
        let opens = serde_json::from_slice::<Value>(&body).is_ok_and(|b| b["open"] == true);
        if opens && proxy.fail_open.load(Ordering::SeqCst) {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("content-type", "application/problem+json")],
                r#"{"type":"about:blank","title":"Service Unavailable","status":503}"#,
            )
                .into_response();
        }
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut request = proxy
        .http
        .request(method, format!("{}{path}", proxy.seating))
        .body(body);
    for name in ["authorization", "content-type", "x-request-id"] {
        if let Some(value) = headers.get(name) {
            request = request.header(name, value);
        }
    }
    let answer = request.send().await.unwrap();
    let status = answer.status();
    let content_type = answer
        .headers()
        .get("content-type")
        .cloned()
        .unwrap_or(axum::http::HeaderValue::from_static("application/json"));
    let bytes = answer.bytes().await.unwrap();
    (status, [("content-type", content_type)], bytes).into_response()
}
