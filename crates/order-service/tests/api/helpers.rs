//! The whole fleet an order test needs, real and in one fresh test database: user-service,
//! catalog-service, seating-service and payment-service (each in its own schema), and
//! order-service (in the test database's own schema). Each listens on an ephemeral port and
//! reaches the others by URL, as in production. The relays and background tasks are not
//! started: tests deliver messages and run the workers when they mean to.

use std::collections::HashMap;

use chrono::Utc;
use order_service::Orders;
use order_service::db::MIGRATIONS;
use order_service::state::AppState;
pub use reqwest::StatusCode;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use service_kit::app::Built;
use service_kit::messages::outbox::Relay;
use sqlx::PgPool;
pub use test_support::assert_problem;
use test_support::{UserService, env, listener, schema_pool, serve_on};
use uuid::Uuid;

pub struct Fleet {
    pub orders: String,
    pub seating: String,
    pub catalog: String,
    pub payment: String,
    pub users: UserService,
    pub http: reqwest::Client,
    /// order-service's database (the test's own).
    pub pool: PgPool,
    pub seating_pool: PgPool,
    pub payment_pool: PgPool,
    pub state: AppState,
    pub payment_state: payment_service::state::AppState,
    pub order_relay: Relay,
    pub catalog_relay: Relay,
    pub seating_relay: Relay,
    pub organizer: String,
    pub admin: String,
    /// Where notification-service would be: records the `order.*` messages delivered to it.
    pub inbox: test_support::MessageSink,
}

/// A logged-in buyer.
pub struct Buyer {
    pub token: String,
    pub id: Uuid,
}

/// An event on sale, with its seats in layout order.
pub struct Event {
    pub id: Uuid,
    pub seats: Vec<Uuid>,
}

impl Fleet {
    pub async fn start(pool: PgPool) -> Self {
        Self::start_with(pool, &[]).await
    }

    /// The fleet with extra variables for every service (`HOLD_TTL_SECONDS`, ...).
    pub async fn start_with(pool: PgPool, vars: &[(&str, &str)]) -> Self {
        let users = UserService::start(&pool).await;
        let inbox = test_support::MessageSink::start().await;
        let (catalog_listener, catalog) = listener().await;
        let (seating_listener, seating) = listener().await;
        let (payment_listener, payment) = listener().await;
        let (order_listener, orders) = listener().await;
        let mut vars_map: HashMap<String, String> = HashMap::from([
            ("USER_SERVICE_URL".into(), users.url.clone()),
            ("CATALOG_SERVICE_URL".into(), catalog.clone()),
            ("SEATING_SERVICE_URL".into(), seating.clone()),
            ("PAYMENT_SERVICE_URL".into(), payment.clone()),
            ("ORDER_SERVICE_URL".into(), orders.clone()),
            ("NOTIFICATION_SERVICE_URL".into(), inbox.url.clone()),
        ]);
        vars_map.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));

        let seating_pool = migrated(&pool, "seating", &seating_service::db::MIGRATIONS).await;
        let seating_app = build::<seating_service::Seating>(&vars_map, &seating_pool).await;
        let catalog_pool = migrated(&pool, "catalog", &catalog_service::db::MIGRATIONS).await;
        let catalog_app = build::<catalog_service::Catalog>(&vars_map, &catalog_pool).await;
        let payment_pool = migrated(&pool, "payments", &payment_service::db::MIGRATIONS).await;
        let payment_app = build::<payment_service::Payments>(&vars_map, &payment_pool).await;
        service_kit::db::migrate(&pool, &MIGRATIONS).await.unwrap();
        let order_app = build::<Orders>(&vars_map, &pool).await;

        let seating_relay = seating_app.relay.clone().unwrap();
        let catalog_relay = catalog_app.relay.clone().unwrap();
        let order_relay = order_app.relay.clone().unwrap();
        let payment_state = payment_app.state.clone();
        let state = order_app.state.clone();
        serve_on(seating_listener, seating_app.router);
        serve_on(catalog_listener, catalog_app.router);
        serve_on(payment_listener, payment_app.router);
        serve_on(order_listener, order_app.router);
        Self {
            organizer: users.account("organizer").await.token,
            admin: users.account("admin").await.token,
            orders,
            seating,
            catalog,
            payment,
            users,
            http: reqwest::Client::new(),
            pool,
            seating_pool,
            payment_pool,
            state,
            payment_state,
            order_relay,
            catalog_relay,
            seating_relay,
            inbox,
        }
    }

    /// A service token of another client (`catalog-service`, ...).
    pub async fn service_token_of(&self, client: &str) -> String {
        self.users.service_token(client).await
    }

    pub async fn buyer(&self) -> Buyer {
        let account = self.users.account("customer").await;
        Buyer {
            token: account.token,
            id: account.id,
        }
    }

    pub async fn call(
        &self,
        method: Method,
        url: String,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// An event on sale with `seats` seats at `price` EUR (one section, rows of 10).
    pub async fn event_on_sale(&self, seats: u32, price: &str) -> Event {
        let venue: Value = self
            .call(
                Method::POST,
                format!("{}/v1/venues", self.catalog),
                Some(&self.organizer),
                None,
                Some(&json!({"name": "Coliseu", "city": "Lisbon", "capacity": 5000})),
            )
            .await
            .json()
            .await
            .unwrap();
        let event: Value = self
            .call(
                Method::POST,
                format!("{}/v1/events", self.catalog),
                Some(&self.organizer),
                None,
                Some(&json!({
                    "title": "Fado <Night> & Friends",
                    "eventType": "concert",
                    "venueId": venue["id"],
                    "startsAt": (Utc::now() + chrono::Duration::days(30)).to_rfc3339(),
                    "currency": "EUR",
                    "basePrice": price,
                })),
            )
            .await
            .json()
            .await
            .unwrap();
        let id: Uuid = event["id"].as_str().unwrap().parse().unwrap();
        let rows = seats.div_ceil(10);
        let layout =
            json!({"layout": [{"section": "Stalls", "rows": rows, "seatsPerRow": seats.min(10)}]});
        let put = self
            .call(
                Method::PUT,
                format!("{}/v1/events/{id}/seats", self.catalog),
                Some(&self.organizer),
                None,
                Some(&layout),
            )
            .await;
        assert_eq!(
            put.status(),
            StatusCode::OK,
            "{}",
            put.text().await.unwrap()
        );
        let published = self
            .call(
                Method::POST,
                format!("{}/v1/events/{id}/publish", self.catalog),
                Some(&self.organizer),
                None,
                Some(&json!({})),
            )
            .await;
        assert_eq!(
            published.status(),
            StatusCode::OK,
            "{}",
            published.text().await.unwrap()
        );
        let list: Value = self
            .call(
                Method::GET,
                format!("{}/v1/events/{id}/seats", self.catalog),
                None,
                None,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        let seats = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["seatId"].as_str().unwrap().parse().unwrap())
            .collect();
        Event { id, seats }
    }

    /// `POST /v1/orders` with `key`; `card` pays in the same call.
    pub async fn order_with_key(
        &self,
        buyer: &Buyer,
        key: &str,
        event: Uuid,
        seats: &[Uuid],
        card: Option<&str>,
    ) -> Response {
        let mut body = json!({"eventId": event, "seatIds": seats});
        if let Some(card) = card {
            body["payment"] = json!({"method": "card", "token": card});
        }
        self.call(
            Method::POST,
            format!("{}/v1/orders", self.orders),
            Some(&buyer.token),
            Some(key),
            Some(&body),
        )
        .await
    }

    pub async fn order(
        &self,
        buyer: &Buyer,
        event: Uuid,
        seats: &[Uuid],
        card: Option<&str>,
    ) -> Response {
        self.order_with_key(buyer, &new_key(), event, seats, card)
            .await
    }

    /// A PENDING_PAYMENT order of these seats: its JSON.
    pub async fn pending(&self, buyer: &Buyer, event: Uuid, seats: &[Uuid]) -> Value {
        let response = self.order(buyer, event, seats, None).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap()
    }

    /// A CONFIRMED order of these seats, paid with `tok_visa`: its JSON.
    pub async fn confirmed(&self, buyer: &Buyer, event: Uuid, seats: &[Uuid]) -> Value {
        let order = self.pending(buyer, event, seats).await;
        let response = self.pay(buyer, &order, "tok_visa").await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{}",
            response.text().await.unwrap()
        );
        response.json().await.unwrap()
    }

    pub async fn pay_with_key(
        &self,
        buyer: &Buyer,
        order: &Value,
        card: &str,
        key: &str,
    ) -> Response {
        self.call(
            Method::POST,
            format!(
                "{}/v1/orders/{}/pay",
                self.orders,
                order["id"].as_str().unwrap()
            ),
            Some(&buyer.token),
            Some(key),
            Some(&json!({"method": "card", "token": card})),
        )
        .await
    }

    pub async fn pay(&self, buyer: &Buyer, order: &Value, card: &str) -> Response {
        self.pay_with_key(buyer, order, card, &new_key()).await
    }

    pub async fn cancel(&self, token: &str, order: &Value) -> Response {
        self.call(
            Method::POST,
            format!(
                "{}/v1/orders/{}/cancel",
                self.orders,
                order["id"].as_str().unwrap()
            ),
            Some(token),
            None,
            None,
        )
        .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.call(
            Method::GET,
            format!("{}{path}", self.orders),
            token,
            None,
            None,
        )
        .await
    }

    /// The order as its buyer (or `token`) reads it.
    pub async fn order_json(&self, token: &str, order: &Value) -> Value {
        let path = format!("/v1/orders/{}", order["id"].as_str().unwrap());
        self.get(&path, Some(token)).await.json().await.unwrap()
    }

    /// Seating's statuses of `seats` (AVAILABLE, HELD, SOLD).
    pub async fn seat_statuses(&self, event: Uuid, seats: &[Uuid]) -> Vec<String> {
        let list: Value = self
            .call(
                Method::GET,
                format!("{}/v1/seats?eventId={event}&limit=100", self.seating),
                None,
                None,
                None,
            )
            .await
            .json()
            .await
            .unwrap();
        let by_id: HashMap<String, String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["seatId"].as_str().unwrap().to_owned(),
                    s["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        seats
            .iter()
            .map(|s| by_id[&s.to_string()].clone())
            .collect()
    }

    /// payment-service's payments of an order: (status, amount, refunded amount).
    pub async fn payments_of(&self, order: &Value) -> Vec<(String, String, String)> {
        sqlx::query_as(
            "SELECT status, amount::text, refunded_amount::text FROM payments
             WHERE order_id = $1::uuid ORDER BY created_at",
        )
        .bind(order["id"].as_str().unwrap())
        .fetch_all(&self.payment_pool)
        .await
        .unwrap()
    }

    /// What the simulated gateway really charged and refunded.
    pub fn gateway(&self) -> &payment_service::gateway::SimulatedGateway {
        self.payment_state.gateway.as_simulated().unwrap()
    }

    /// The types of the messages order-service wrote to its outbox, oldest first.
    pub async fn outbox_types(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT type FROM outbox ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }

    /// Delivers what catalog, seating and order-service have to say, until nothing is due.
    pub async fn deliver(&self) {
        seating_service::sweeper::announce_sold_out(&self.seating_pool)
            .await
            .unwrap();
        for _ in 0..3 {
            while self.catalog_relay.deliver_batch().await.unwrap() > 0 {}
            while self.seating_relay.deliver_batch().await.unwrap() > 0 {}
            while self.order_relay.deliver_batch().await.unwrap() > 0 {}
        }
    }

    /// Cancels the event through catalog (its organizer), and delivers `event.cancelled`.
    pub async fn cancel_event(&self, event: Uuid) {
        let response = self
            .call(
                Method::POST,
                format!("{}/v1/events/{event}/cancel", self.catalog),
                Some(&self.organizer),
                None,
                Some(&json!({"reason": "the band split up"})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        self.deliver().await;
    }

    /// Runs the order workers' rounds as the supervised tasks would.
    pub async fn run_workers(&self) {
        order_service::workers::expire_due(&self.state)
            .await
            .unwrap();
        order_service::workers::recover_stalled(&self.state)
            .await
            .unwrap();
        order_service::workers::undo_cancelled_events(&self.state, 50, 4)
            .await
            .unwrap();
    }
}

async fn migrated(pool: &PgPool, schema: &str, migrations: &sqlx::migrate::Migrator) -> PgPool {
    let schema_pool = schema_pool(pool, schema).await;
    service_kit::db::migrate(&schema_pool, migrations)
        .await
        .unwrap();
    schema_pool
}

async fn build<S: service_kit::app::Service>(
    vars: &HashMap<String, String>,
    pool: &PgPool,
) -> Built<S::State> {
    service_kit::app::build::<S>(env(vars.clone()), pool.clone())
        .await
        .unwrap()
}

pub fn new_key() -> String {
    Uuid::now_v7().to_string()
}

pub fn id_of(value: &Value) -> Uuid {
    value["id"].as_str().unwrap().parse().unwrap()
}
