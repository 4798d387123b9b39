//! The fleet a catalog test needs. catalog-service uses the test's fresh database; seating-service
//! runs beside it in the same database under its own schema (both have `events` and `seats`
//! tables), so each test still starts from nothing and leaves nothing behind; user-service shares
//! a database with the other services' tests (accounts there have unique e-mails).

use std::collections::HashMap;

use chrono::{Duration, Utc};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use service_kit::messages::outbox::Relay;
use sqlx::PgPool;
use test_support::{UserService, env, listener, serve_on};
use uuid::Uuid;

pub struct TestApp {
    pub address: String,
    pub seating: String,
    pub users: UserService,
    pub http: reqwest::Client,
    pub pool: PgPool,
    pub service_token: String,
    pub relay: Relay,
    pub seating_relay: Relay,
    pub state: catalog_service::state::AppState,
}

impl TestApp {
    pub async fn spawn(pool: PgPool) -> Self {
        Self::spawn_with(pool, &[]).await
    }

    pub async fn spawn_with(pool: PgPool, vars: &[(&str, &str)]) -> Self {
        let users = UserService::start(&pool).await;

        // seating-service in schema `seating` of the test database.
        let seating_pool = test_support::schema_pool(&pool, "seating").await;
        service_kit::db::migrate(&seating_pool, &seating_service::startup::MIGRATIONS)
            .await
            .unwrap();
        service_kit::db::migrate(&pool, &catalog_service::startup::MIGRATIONS)
            .await
            .unwrap();

        let (seating_listener, seating) = listener().await;
        let (catalog_listener, address) = listener().await;
        let mut vars_map: HashMap<String, String> = HashMap::from([
            ("USER_SERVICE_URL".into(), users.url.clone()),
            ("SEATING_SERVICE_URL".into(), seating.clone()),
            ("CATALOG_SERVICE_URL".into(), address.clone()),
        ]);
        vars_map.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let seating_app = service_kit::app::build::<seating_service::startup::Seating>(
            env(vars_map.clone()),
            seating_pool.clone(),
        )
        .await
        .unwrap();
        serve_on(seating_listener, seating_app.router);

        let app = service_kit::app::build::<catalog_service::startup::Catalog>(
            env(vars_map),
            pool.clone(),
        )
        .await
        .unwrap();
        serve_on(catalog_listener, app.router);

        Self {
            address,
            seating,
            http: reqwest::Client::new(),
            pool,
            service_token: users.service_token("order-service").await,
            users,
            relay: app.relay.unwrap(),
            seating_relay: seating_app.relay.unwrap(),
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
        "startsAt": (Utc::now() + Duration::days(days)).to_rfc3339(),
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
