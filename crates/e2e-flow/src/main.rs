//! `e2e-flow`: the buying journey through the running fleet, over HTTP only.
//!
//! An admin makes a user an organizer; the organizer creates a venue and an event, defines its
//! seats and publishes it; a buyer holds two seats and pays; seating's seat map and payment's
//! records agree. Each step prints what it did; the first unexpected answer stops the run with a
//! non-zero exit. Run it against `./setup-local.sh` started with `ADMIN_EMAIL` and
//! `ADMIN_PASSWORD` (see README.md), or any fleet via the `*_SERVICE_URL` variables.

#![allow(clippy::print_stdout)] // a walk-through's output is its report

use anyhow::{Context, bail, ensure};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// Where the services are.
struct Fleet {
    http: reqwest::Client,
    user: String,
    catalog: String,
    seating: String,
    payment: String,
}

fn url(var: &str, port: u16) -> String {
    std::env::var(var).unwrap_or_else(|_| format!("http://localhost:{port}"))
}

// The flow's own view of the answers: only the fields it reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    access_token: String,
    user: User,
}

#[derive(Deserialize)]
struct User {
    id: Uuid,
    role: String,
}

#[derive(Deserialize)]
struct Created {
    id: Uuid,
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seat {
    seat_id: Uuid,
}

#[derive(Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Hold {
    #[serde(rename = "holdId")]
    id: Uuid,
    status: String,
    seats: Vec<Value>,
}

impl Fleet {
    /// Sends a JSON request; checks the status; returns the body.
    async fn call(
        &self,
        method: Method,
        url: String,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, String)],
        expect: StatusCode,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status != expect {
            bail!("{method} {url}: expected {expect}, got {status}: {text}");
        }
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }

    async fn login(&self, email: &str, password: &str) -> anyhow::Result<Login> {
        let body = json!({"email": email, "password": password});
        let answer = self
            .call(
                Method::POST,
                format!("{}/v1/auth/login", self.user),
                None,
                Some(body),
                &[],
                StatusCode::OK,
            )
            .await?;
        Ok(serde_json::from_value(answer)?)
    }

    async fn register(&self, email: &str, password: &str) -> anyhow::Result<()> {
        let body = json!({"name": "E2E", "email": email, "password": password});
        self.call(
            Method::POST,
            format!("{}/v1/users", self.user),
            None,
            Some(body),
            &[],
            StatusCode::CREATED,
        )
        .await?;
        Ok(())
    }
}

fn step(what: &str) {
    println!("ok  {what}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let fleet = Fleet {
        http: reqwest::Client::new(),
        user: url("USER_SERVICE_URL", 8080),
        catalog: url("CATALOG_SERVICE_URL", 3002),
        seating: url("SEATING_SERVICE_URL", 4000),
        payment: url("PAYMENT_SERVICE_URL", 3004),
    };
    let run = Uuid::now_v7().simple().to_string();
    check_ready(&fleet).await?;
    let people = accounts(&fleet, &run).await?;
    let (event, seats) = publish_event(&fleet, &people.organizer.access_token, &run).await?;
    let hold = hold_seats(&fleet, &people, event, &seats, &run).await?;
    let order = pay(&fleet, &people.buyer.access_token, &run).await?;
    sell(&fleet, event, hold, order).await?;
    println!("e2e-flow: all steps passed");
    Ok(())
}

struct People {
    admin: Login,
    organizer: Login,
    buyer: Login,
}

async fn check_ready(fleet: &Fleet) -> anyhow::Result<()> {
    for (name, base) in [
        ("user", &fleet.user),
        ("catalog", &fleet.catalog),
        ("seating", &fleet.seating),
        ("payment", &fleet.payment),
    ] {
        fleet
            .call(
                Method::GET,
                format!("{base}/ready"),
                None,
                None,
                &[],
                StatusCode::OK,
            )
            .await?;
        step(&format!("{name}-service is ready at {base}"));
    }
    Ok(())
}

/// An organizer (promoted by the admin) and a buyer.
async fn accounts(fleet: &Fleet, run: &str) -> anyhow::Result<People> {
    let admin_email =
        std::env::var("ADMIN_EMAIL").context("ADMIN_EMAIL: the fleet's admin (see README.md)")?;
    let admin_password = std::env::var("ADMIN_PASSWORD").context("ADMIN_PASSWORD")?;
    let password = "e2e password 123";
    let admin = fleet.login(&admin_email, &admin_password).await?;
    ensure!(admin.user.role == "admin", "{admin_email} is not an admin");
    let organizer_email = format!("organizer-{run}@example.com");
    fleet.register(&organizer_email, password).await?;
    let organizer = fleet.login(&organizer_email, password).await?;
    fleet
        .call(
            Method::PATCH,
            format!("{}/v1/users/{}/role", fleet.user, organizer.user.id),
            Some(&admin.access_token),
            Some(json!({"role": "organizer"})),
            &[],
            StatusCode::OK,
        )
        .await?;
    let organizer = fleet.login(&organizer_email, password).await?;
    ensure!(
        organizer.user.role == "organizer",
        "the role change did not reach the token"
    );
    step("an admin made a new user an organizer");
    let buyer_email = format!("buyer-{run}@example.com");
    fleet.register(&buyer_email, password).await?;
    let buyer = fleet.login(&buyer_email, password).await?;
    step("a buyer registered and logged in");
    Ok(People {
        admin,
        organizer,
        buyer,
    })
}

/// The organizer's event, on sale, and its seats.
async fn publish_event(
    fleet: &Fleet,
    organizer: &str,
    run: &str,
) -> anyhow::Result<(Uuid, Vec<Seat>)> {
    let org = Some(organizer);
    let venue: Created = serde_json::from_value(
        fleet
            .call(
                Method::POST,
                format!("{}/v1/venues", fleet.catalog),
                org,
                Some(json!({"name": format!("E2E Hall {run}"), "city": "Lisbon", "capacity": 30})),
                &[],
                StatusCode::CREATED,
            )
            .await?,
    )?;
    let event: Created = serde_json::from_value(
        fleet
            .call(Method::POST, format!("{}/v1/events", fleet.catalog), org,
                Some(json!({"title": format!("E2E Concert {run}"), "eventType": "concert", "venueId": venue.id,
                    "startsAt": "2031-01-01T20:00:00Z", "currency": "EUR", "basePrice": "40.00"})),
                &[], StatusCode::CREATED)
            .await?,
    )?;
    ensure!(event.status == "DRAFT", "a new event is {}", event.status);
    fleet
        .call(
            Method::PUT,
            format!("{}/v1/events/{}/seats", fleet.catalog, event.id),
            org,
            Some(json!({"layout": [{"section": "Stalls", "rows": 3, "seatsPerRow": 10}]})),
            &[],
            StatusCode::OK,
        )
        .await?;
    let published: Created = serde_json::from_value(
        fleet
            .call(
                Method::POST,
                format!("{}/v1/events/{}/publish", fleet.catalog, event.id),
                org,
                None,
                &[],
                StatusCode::OK,
            )
            .await?,
    )?;
    ensure!(
        published.status == "ON_SALE",
        "a published event is {}",
        published.status
    );
    step("the organizer created a venue and an event of 30 seats, and published it");

    let seats: Items<Seat> = serde_json::from_value(
        fleet
            .call(
                Method::GET,
                format!("{}/v1/events/{}/seats", fleet.catalog, event.id),
                None,
                None,
                &[],
                StatusCode::OK,
            )
            .await?,
    )?;
    let map = fleet
        .call(
            Method::GET,
            format!("{}/v1/events/{}/seatmap", fleet.seating, event.id),
            None,
            None,
            &[],
            StatusCode::OK,
        )
        .await?;
    ensure!(
        map["available"] == 30,
        "seating has {} seats available, not 30",
        map["available"]
    );
    step("seating has the 30 seats");
    Ok((event.id, seats.items))
}

/// The buyer holds two seats; another buyer cannot take them.
async fn hold_seats(
    fleet: &Fleet,
    people: &People,
    event: Uuid,
    seats: &[Seat],
    run: &str,
) -> anyhow::Result<Uuid> {
    let wanted = [seats[0].seat_id, seats[1].seat_id];
    let hold: Hold = serde_json::from_value(
        fleet
            .call(
                Method::POST,
                format!("{}/v1/seats/reserve", fleet.seating),
                Some(&people.buyer.access_token),
                Some(
                    json!({"eventId": event, "seatIds": wanted, "holderId": people.buyer.user.id}),
                ),
                &[("idempotency-key", format!("hold-{run}"))],
                StatusCode::CREATED,
            )
            .await?,
    )?;
    ensure!(
        hold.status == "ACTIVE" && hold.seats.len() == 2,
        "unexpected hold"
    );
    let conflict = fleet
        .call(
            Method::POST,
            format!("{}/v1/seats/reserve", fleet.seating),
            Some(&people.admin.access_token),
            Some(
                json!({"eventId": event, "seatIds": [wanted[0]], "holderId": people.admin.user.id}),
            ),
            &[],
            StatusCode::CONFLICT,
        )
        .await?;
    ensure!(
        conflict["conflicts"]
            .as_array()
            .is_some_and(|c| c.len() == 1),
        "the conflict names the seat"
    );
    step("the buyer holds 2 seats; another buyer gets 409 naming the taken seat");
    Ok(hold.id)
}

/// The buyer pays (order-service will do this; until then, directly); the order id.
async fn pay(fleet: &Fleet, buyer: &str, run: &str) -> anyhow::Result<Uuid> {
    let order = Uuid::now_v7();
    let charge = json!({"orderId": order, "amount": "84.00", "currency": "EUR", "method": "card", "token": "tok_visa"});
    let key = [("idempotency-key", format!("pay-{run}"))];
    let url = format!("{}/v1/payments/charge", fleet.payment);
    let payment = fleet
        .call(
            Method::POST,
            url.clone(),
            Some(buyer),
            Some(charge.clone()),
            &key,
            StatusCode::CREATED,
        )
        .await?;
    ensure!(
        payment["status"] == "SUCCESS",
        "payment {}",
        payment["status"]
    );
    let replay = fleet
        .call(
            Method::POST,
            url,
            Some(buyer),
            Some(charge),
            &key,
            StatusCode::CREATED,
        )
        .await?;
    ensure!(
        replay["id"] == payment["id"],
        "a replay answered another payment"
    );
    step("the buyer paid 84.00 EUR (2 × 40.00 + 5 % tax); a retry with the same key replays it");
    Ok(order)
}

/// Seating sells the hold to the order, as order-service will ask it to.
async fn sell(fleet: &Fleet, event: Uuid, hold: Uuid, order: Uuid) -> anyhow::Result<()> {
    let secret = std::env::var("ORDER_SERVICE_CLIENT_SECRET")
        .unwrap_or_else(|_| "dev-secret-order-service".into());
    let service = fleet
        .call(
            Method::POST,
            format!("{}/v1/auth/service-token", fleet.user),
            None,
            Some(json!({"clientId": "order-service", "clientSecret": secret})),
            &[],
            StatusCode::OK,
        )
        .await?;
    let token = service["accessToken"].as_str().context("a service token")?;
    fleet
        .call(
            Method::POST,
            format!("{}/v1/seats/allocate", fleet.seating),
            Some(token),
            Some(json!({"holdId": hold, "orderId": order})),
            &[],
            StatusCode::OK,
        )
        .await?;
    let map = fleet
        .call(
            Method::GET,
            format!("{}/v1/events/{}/seatmap", fleet.seating, event),
            None,
            None,
            &[],
            StatusCode::OK,
        )
        .await?;
    ensure!(
        map["sold"] == 2 && map["available"] == 28,
        "seat map after the sale: {map}"
    );
    step("seating sold the 2 seats to the order: 28 left");
    Ok(())
}
