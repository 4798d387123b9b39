//! `e2e-flow`: the buying journey through a running fleet, over HTTP only, told step by step.
//!
//! 1. an admin makes a user an organizer; a buyer registers and logs in;
//! 2. the organizer creates a venue and an event with two price sections and publishes it;
//!    catalog shows it on sale and seating has its seats;
//! 3. the buyer orders two seats and sees the hold and the totals; a second buyer is refused them;
//! 4. a declined card fails the order and frees the seats, which a new order holds again; a good
//!    card confirms it with two tickets; the same key replays;
//! 5. each ticket's QR code is fetched and its signed payload verified offline with the published
//!    keys; the organizer checks one in, and is refused the second time;
//! 6. the confirmation e-mail is sent (notification-service lists it `SENT`; with a mail folder,
//!    its `.eml` names both ticket codes);
//! 7. the buyer cancels a second, confirmed order: refunded, its tickets void, its seats available.
//!
//! It links no service: its structs are its own, so a contract change breaks the journey instead
//! of compiling through. The first unexpected answer stops it with the request and the answer,
//! and a non-zero exit. URLs come from `--user-url` … flags or the `*_SERVICE_URL` variables; the
//! admin from `--admin-email`/`--admin-password` or `ADMIN_EMAIL`/`ADMIN_PASSWORD` (by default
//! the development admin `./setup-local.sh` prints).

mod narrate;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use base64::Engine;
use clap::Parser;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::narrate::Narrator;

/// The development admin user-service creates when `ADMIN_EMAIL`/`ADMIN_PASSWORD` are unset.
const DEV_ADMIN_EMAIL: &str = "admin@ticketing.local";
const DEV_ADMIN_PASSWORD: &str = "development admin password";

#[derive(Parser)]
#[command(about = "Walk the buying journey through a running ticketing fleet")]
struct Args {
    #[arg(
        long,
        env = "USER_SERVICE_URL",
        default_value = "http://localhost:8080"
    )]
    user_url: String,
    #[arg(
        long,
        env = "CATALOG_SERVICE_URL",
        default_value = "http://localhost:3002"
    )]
    catalog_url: String,
    #[arg(
        long,
        env = "SEATING_SERVICE_URL",
        default_value = "http://localhost:4000"
    )]
    seating_url: String,
    #[arg(
        long,
        env = "ORDER_SERVICE_URL",
        default_value = "http://localhost:3007"
    )]
    order_url: String,
    #[arg(
        long,
        env = "PAYMENT_SERVICE_URL",
        default_value = "http://localhost:3004"
    )]
    payment_url: String,
    #[arg(
        long,
        env = "NOTIFICATION_SERVICE_URL",
        default_value = "http://localhost:3005"
    )]
    notification_url: String,
    #[arg(long, env = "ADMIN_EMAIL", default_value = DEV_ADMIN_EMAIL)]
    admin_email: String,
    #[arg(long, env = "ADMIN_PASSWORD", default_value = DEV_ADMIN_PASSWORD)]
    admin_password: String,
    /// Where notification-service writes `.eml` files (its `MAIL_DIR`), to read the receipt.
    #[arg(long, env = "E2E_MAIL_DIR")]
    mail_dir: Option<PathBuf>,
    /// The narration without colours.
    #[arg(long, default_value = "log/e2e-run.log")]
    log: PathBuf,
}

/// The fleet, as a client sees it.
struct Fleet {
    http: reqwest::Client,
    args: Args,
}

impl Fleet {
    /// One request: the body of an answer with `expect`, or an error naming the request, the
    /// status and the body.
    async fn call(
        &self,
        method: Method,
        url: String,
        token: Option<&str>,
        key: Option<&str>,
        body: Option<&Value>,
        expect: StatusCode,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}: no answer (is the service running?)"))?;
        let status = response.status();
        let replayed = response.headers().contains_key("idempotent-replayed");
        let text = response.text().await.unwrap_or_default();
        if status != expect {
            bail!("{method} {url}\n    expected {expect}, got {status}\n    {text}");
        }
        let mut value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if replayed && value.is_object() {
            value["_replayed"] = Value::Bool(true);
        }
        Ok(value)
    }

    async fn post(
        &self,
        url: String,
        token: Option<&str>,
        body: &Value,
        expect: StatusCode,
    ) -> anyhow::Result<Value> {
        self.call(Method::POST, url, token, None, Some(body), expect)
            .await
    }

    async fn get(&self, url: String, token: Option<&str>) -> anyhow::Result<Value> {
        self.call(Method::GET, url, token, None, None, StatusCode::OK)
            .await
    }

    async fn login(&self, email: &str, password: &str) -> anyhow::Result<(String, String)> {
        let session = self
            .post(
                format!("{}/v1/auth/login", self.args.user_url),
                None,
                &json!({"email": email, "password": password}),
                StatusCode::OK,
            )
            .await?;
        Ok((
            text(&session["accessToken"])?,
            text(&session["user"]["id"])?,
        ))
    }

    /// A new account: (token, id).
    async fn account(&self, name: &str) -> anyhow::Result<(String, String)> {
        let email = format!("{}-{}@example.com", name.to_lowercase(), Uuid::now_v7());
        let password = "correct horse battery";
        self.post(
            format!("{}/v1/users", self.args.user_url),
            None,
            &json!({"name": name, "email": email, "password": password}),
            StatusCode::CREATED,
        )
        .await?;
        self.login(&email, password).await
    }

    async fn order(
        &self,
        buyer: &str,
        key: &str,
        event: &str,
        seats: &[String],
        expect: StatusCode,
    ) -> anyhow::Result<Value> {
        self.call(
            Method::POST,
            format!("{}/v1/orders", self.args.order_url),
            Some(buyer),
            Some(key),
            Some(&json!({"eventId": event, "seatIds": seats})),
            expect,
        )
        .await
    }

    async fn pay(
        &self,
        buyer: &str,
        order: &str,
        key: &str,
        card: &str,
        expect: StatusCode,
    ) -> anyhow::Result<Value> {
        self.call(
            Method::POST,
            format!("{}/v1/orders/{order}/pay", self.args.order_url),
            Some(buyer),
            Some(key),
            Some(&json!({"method": "card", "token": card})),
            expect,
        )
        .await
    }

    /// Seating's status of each of `seats`.
    async fn seat_statuses(&self, event: &str, seats: &[String]) -> anyhow::Result<Vec<String>> {
        let list = self
            .get(
                format!(
                    "{}/v1/seats?eventId={event}&limit=100",
                    self.args.seating_url
                ),
                None,
            )
            .await?;
        seats
            .iter()
            .map(|id| {
                list["items"]
                    .as_array()
                    .and_then(|items| items.iter().find(|s| s["seatId"] == id.as_str()))
                    .and_then(|s| s["status"].as_str())
                    .map(str::to_owned)
                    .with_context(|| format!("seat {id} is not in seating's list"))
            })
            .collect()
    }
}

fn text(value: &Value) -> anyhow::Result<String> {
    value
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("expected a string, got {value}"))
}

/// One step of the journey: what it checked, or why it failed.
type Step = for<'a> fn(
    &'a Fleet,
    &'a Narrator,
    &'a mut Journey,
) -> std::pin::Pin<Box<dyn Future<Output = anyhow::Result<String>> + 'a>>;

/// What the steps hand on to each other.
#[derive(Default)]
struct Journey {
    admin: String,
    organizer: String,
    buyer: String,
    buyer_id: String,
    other_buyer: String,
    event: String,
    free: Vec<String>,
    order: Value,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let mut narrator = Narrator::new(&args.log);
    let fleet = Fleet {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a static HTTP client configuration"),
        args,
    };
    narrator.title("The buying journey, through the fleet's public API");
    let mut journey = Journey::default();
    let steps: [(&str, Step); 7] = [
        ("1. accounts", |f, n, j| Box::pin(accounts(f, n, j))),
        ("2. an event on sale", |f, n, j| {
            Box::pin(event_on_sale(f, n, j))
        }),
        ("3. two seats ordered", |f, n, j| {
            Box::pin(order_two_seats(f, n, j))
        }),
        ("4. paid", |f, n, j| Box::pin(pay(f, n, j))),
        ("5. tickets at the door", |f, n, j| {
            Box::pin(tickets(f, n, j))
        }),
        ("6. the confirmation e-mail", |f, n, j| {
            Box::pin(email(f, n, j))
        }),
        ("7. a refund", |f, n, j| Box::pin(refund(f, n, j))),
    ];
    for (name, step) in steps {
        let started = Instant::now();
        match step(&fleet, &narrator, &mut journey).await {
            Ok(checked) => narrator.passed(name, &checked, started.elapsed()),
            Err(error) => {
                narrator.failed(name, &error);
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    narrator.done(steps.len());
    std::process::ExitCode::SUCCESS
}

async fn accounts(fleet: &Fleet, _: &Narrator, j: &mut Journey) -> anyhow::Result<String> {
    let a = &fleet.args;
    j.admin = fleet
        .login(&a.admin_email, &a.admin_password)
        .await
        .context("logging in the admin (ADMIN_EMAIL / ADMIN_PASSWORD of user-service)")?
        .0;
    let (_, organizer_id) = fleet.account("Olga").await?;
    fleet
        .call(
            Method::PATCH,
            format!("{}/v1/users/{organizer_id}/role", a.user_url),
            Some(&j.admin),
            None,
            Some(&json!({"role": "organizer"})),
            StatusCode::OK,
        )
        .await?;
    // A role reaches the next token: log in again.
    let me = fleet
        .get(
            format!("{}/v1/users/{organizer_id}", a.user_url),
            Some(&j.admin),
        )
        .await?;
    j.organizer = fleet
        .login(&text(&me["email"])?, "correct horse battery")
        .await?
        .0;
    (j.buyer, j.buyer_id) = fleet.account("Bruno").await?;
    (j.other_buyer, _) = fleet.account("Beatriz").await?;
    Ok("an admin made Olga an organizer; Bruno and Beatriz registered and logged in".into())
}

async fn event_on_sale(fleet: &Fleet, _: &Narrator, j: &mut Journey) -> anyhow::Result<String> {
    let a = &fleet.args;
    let venue = fleet
        .post(
            format!("{}/v1/venues", a.catalog_url),
            Some(&j.organizer),
            &json!({"name": "Teatro Tivoli", "city": "Lisbon", "capacity": 60}),
            StatusCode::CREATED,
        )
        .await?;
    let event = fleet
        .post(
            format!("{}/v1/events", a.catalog_url),
            Some(&j.organizer),
            &json!({"title": "Fado at Night", "eventType": "concert", "venueId": venue["id"],
                "startsAt": "2030-06-01T20:00:00Z", "currency": "EUR", "basePrice": "40.00"}),
            StatusCode::CREATED,
        )
        .await?;
    j.event = text(&event["id"])?;
    fleet
        .call(
            Method::PUT,
            format!("{}/v1/events/{}/seats", a.catalog_url, j.event),
            Some(&j.organizer),
            None,
            Some(&json!({"layout": [
                {"section": "Stalls", "rows": 4, "seatsPerRow": 10},
                {"section": "Balcony", "rows": 2, "seatsPerRow": 10, "price": "25.50"}]})),
            StatusCode::OK,
        )
        .await?;
    let published = fleet
        .post(
            format!("{}/v1/events/{}/publish", a.catalog_url, j.event),
            Some(&j.organizer),
            &json!({}),
            StatusCode::OK,
        )
        .await?;
    ensure!(
        published["status"] == "ON_SALE",
        "published as {}",
        published["status"]
    );
    let public = fleet
        .get(format!("{}/v1/events/{}", a.catalog_url, j.event), None)
        .await?;
    ensure!(
        public["status"] == "ON_SALE",
        "catalog shows {}",
        public["status"]
    );
    let map = fleet
        .get(
            format!("{}/v1/events/{}/seatmap", a.seating_url, j.event),
            None,
        )
        .await?;
    ensure!(
        map["available"] == 60,
        "seating has {} seats available",
        map["available"]
    );
    let free = fleet
        .get(
            format!(
                "{}/v1/seats?eventId={}&status=AVAILABLE&section=Balcony",
                a.seating_url, j.event
            ),
            None,
        )
        .await?;
    j.free = free["items"]
        .as_array()
        .context("a seat list")?
        .iter()
        .filter_map(|s| s["seatId"].as_str().map(str::to_owned))
        .collect();
    Ok("Fado at Night (Stalls 40.00, Balcony 25.50) is ON_SALE in catalog; seating has its 60 seats".into())
}

async fn order_two_seats(fleet: &Fleet, _: &Narrator, j: &mut Journey) -> anyhow::Result<String> {
    let seats = j.free[..2].to_vec();
    let order = fleet
        .order(
            &j.buyer,
            &format!("order-{}", Uuid::now_v7()),
            &j.event,
            &seats,
            StatusCode::CREATED,
        )
        .await?;
    ensure!(
        order["status"] == "PENDING_PAYMENT",
        "the order is {}",
        order["status"]
    );
    ensure!(
        order["subtotal"] == "51.00" && order["tax"] == "2.55" && order["total"] == "53.55",
        "totals {} + {} = {}",
        order["subtotal"],
        order["tax"],
        order["total"]
    );
    ensure!(order["holdId"].is_string(), "no hold");
    let refused = fleet
        .order(
            &j.other_buyer,
            &format!("order-{}", Uuid::now_v7()),
            &j.event,
            &seats,
            StatusCode::CONFLICT,
        )
        .await?;
    ensure!(
        refused["conflicts"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "no conflicts named"
    );
    j.order = order;
    Ok(format!(
        "PENDING_PAYMENT, held until {}; 51.00 + 2.55 tax (5 %) = 53.55 EUR; Beatriz refused the same seats (409)",
        j.order["holdExpiresAt"].as_str().unwrap_or("?")
    ))
}

async fn pay(fleet: &Fleet, _: &Narrator, j: &mut Journey) -> anyhow::Result<String> {
    let seats = j.free[..2].to_vec();
    let first = text(&j.order["id"])?;
    let declined = fleet
        .pay(
            &j.buyer,
            &first,
            &format!("pay-{}", Uuid::now_v7()),
            "tok_chargeDeclined",
            StatusCode::PAYMENT_REQUIRED,
        )
        .await?;
    ensure!(
        declined["order"]["status"] == "PAYMENT_FAILED",
        "declined order is {}",
        declined["order"]["status"]
    );
    ensure!(
        fleet.seat_statuses(&j.event, &seats).await? == ["AVAILABLE", "AVAILABLE"],
        "seats not released"
    );
    let again = fleet
        .order(
            &j.buyer,
            &format!("order-{}", Uuid::now_v7()),
            &j.event,
            &seats,
            StatusCode::CREATED,
        )
        .await?;
    let key = format!("pay-{}", Uuid::now_v7());
    let second = text(&again["id"])?;
    let paid = fleet
        .pay(&j.buyer, &second, &key, "tok_visa", StatusCode::OK)
        .await?;
    ensure!(
        paid["status"] == "CONFIRMED",
        "paid order is {}",
        paid["status"]
    );
    ensure!(
        paid["tickets"].as_array().map(Vec::len) == Some(2),
        "not two tickets"
    );
    let replay = fleet
        .pay(&j.buyer, &second, &key, "tok_visa", StatusCode::OK)
        .await?;
    ensure!(
        replay["_replayed"] == true && replay["id"] == paid["id"],
        "the retry was not a replay"
    );
    ensure!(
        fleet.seat_statuses(&j.event, &seats).await? == ["SOLD", "SOLD"],
        "seats not sold"
    );
    j.order = paid;
    Ok("a declined card: 402, PAYMENT_FAILED, seats released and held again by a new order; tok_visa: CONFIRMED with 2 tickets, seats SOLD; the same key replayed".into())
}

async fn tickets(fleet: &Fleet, _: &Narrator, j: &mut Journey) -> anyhow::Result<String> {
    let a = &fleet.args;
    let keys = fleet
        .get(format!("{}/v1/tickets/keys", a.order_url), None)
        .await?;
    let x = text(&keys["keys"][0]["x"])?;
    let key = jsonwebtoken::DecodingKey::from_ed_components(&x).context("the published key")?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_required_spec_claims(&["exp", "sub"]);
    let tickets = j.order["tickets"].as_array().context("tickets")?.clone();
    for ticket in &tickets {
        let code = text(&ticket["code"])?;
        let svg = fleet
            .http
            .get(format!("{}/v1/tickets/{code}/qr.svg", a.order_url))
            .bearer_auth(&j.buyer)
            .send()
            .await?;
        ensure!(
            svg.status() == StatusCode::OK,
            "qr.svg answered {}",
            svg.status()
        );
        ensure!(svg.text().await?.contains("<svg"), "qr.svg is not an SVG");
        let claims = jsonwebtoken::decode::<Value>(&text(&ticket["qrPayload"])?, &key, &validation)
            .context("the ticket's payload does not verify with the published key")?
            .claims;
        ensure!(
            claims["sub"] == code.as_str() && claims["eventId"] == j.event.as_str(),
            "the payload names another ticket"
        );
    }
    let code = text(&tickets[0]["code"])?;
    let url = format!("{}/v1/tickets/{code}/check-in", a.order_url);
    let used = fleet
        .call(
            Method::POST,
            url.clone(),
            Some(&j.organizer),
            None,
            None,
            StatusCode::OK,
        )
        .await?;
    ensure!(used["status"] == "USED", "checked in as {}", used["status"]);
    fleet
        .call(
            Method::POST,
            url,
            Some(&j.organizer),
            None,
            None,
            StatusCode::CONFLICT,
        )
        .await?;
    Ok("2 QR codes fetched, both payloads verified offline with GET /v1/tickets/keys; the organizer checked one in (200), and again (409)".into())
}

async fn email(fleet: &Fleet, narrator: &Narrator, j: &mut Journey) -> anyhow::Result<String> {
    let order = text(&j.order["id"])?;
    let url = format!(
        "{}/v1/notifications?userId={}&orderId={order}",
        fleet.args.notification_url, j.buyer_id
    );
    let sent = narrator
        .waiting(
            "waiting for notification-service to send the receipt",
            async {
                for _ in 0..120 {
                    let list = fleet.get(url.clone(), Some(&j.buyer)).await?;
                    let receipt = list["items"].as_array().and_then(|items| {
                        items
                            .iter()
                            .find(|n| n["type"] == "order.confirmed")
                            .cloned()
                    });
                    match receipt {
                        Some(n) if n["status"] == "SENT" => return Ok(n),
                        Some(n) if n["status"] == "FAILED" => bail!("the receipt FAILED: {n}"),
                        _ => tokio::time::sleep(Duration::from_millis(500)).await,
                    }
                }
                bail!("no SENT receipt after 60 s at {url}")
            },
        )
        .await?;
    let mut checked = format!(
        "the receipt to {} is SENT",
        sent["recipient"].as_str().unwrap_or("?")
    );
    if let Some(dir) = &fleet.args.mail_dir {
        let codes: Vec<String> = j.order["tickets"]
            .as_array()
            .context("tickets")?
            .iter()
            .filter_map(|t| t["code"].as_str().map(str::to_owned))
            .collect();
        let file = eml_naming(dir, &codes)?;
        checked = format!("{checked}; {} names both ticket codes", file.display());
    }
    Ok(checked)
}

/// The `.eml` file in `dir` whose text (plain or in base64 parts) names every code.
fn eml_naming(dir: &std::path::Path, codes: &[String]) -> anyhow::Result<PathBuf> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read_to_string(&path).unwrap_or_default();
        let mut decoded = raw.clone();
        for block in raw.split("\n\n").chain(raw.split("\r\n\r\n")) {
            let joined: String = block.lines().map(str::trim).collect();
            if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(joined.as_bytes()) {
                decoded.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        if codes.iter().all(|c| decoded.contains(c.as_str())) {
            return Ok(path);
        }
    }
    bail!("no .eml in {} names both ticket codes", dir.display())
}

async fn refund(fleet: &Fleet, _: &Narrator, j: &mut Journey) -> anyhow::Result<String> {
    let seats = j.free[2..4].to_vec();
    let order = fleet
        .order(
            &j.buyer,
            &format!("order-{}", Uuid::now_v7()),
            &j.event,
            &seats,
            StatusCode::CREATED,
        )
        .await?;
    let id = text(&order["id"])?;
    let paid = fleet
        .pay(
            &j.buyer,
            &id,
            &format!("pay-{}", Uuid::now_v7()),
            "tok_mastercard",
            StatusCode::OK,
        )
        .await?;
    ensure!(
        paid["status"] == "CONFIRMED",
        "the second order is {}",
        paid["status"]
    );
    let cancelled = fleet
        .call(
            Method::POST,
            format!("{}/v1/orders/{id}/cancel", fleet.args.order_url),
            Some(&j.buyer),
            None,
            None,
            StatusCode::OK,
        )
        .await?;
    ensure!(
        cancelled["status"] == "REFUNDED",
        "cancelled as {}",
        cancelled["status"]
    );
    ensure!(
        cancelled["tickets"]
            .as_array()
            .is_some_and(|t| t.iter().all(|t| t["status"] == "VOID")),
        "tickets not void"
    );
    let payment = fleet
        .get(
            format!(
                "{}/v1/payments/{}",
                fleet.args.payment_url,
                text(&cancelled["paymentId"])?
            ),
            Some(&j.buyer),
        )
        .await?;
    ensure!(
        payment["status"] == "REFUNDED",
        "the payment is {}",
        payment["status"]
    );
    ensure!(
        fleet.seat_statuses(&j.event, &seats).await? == ["AVAILABLE", "AVAILABLE"],
        "seats not returned"
    );
    Ok(format!(
        "a second order CONFIRMED then cancelled: REFUNDED ({} back), tickets VOID, seats AVAILABLE again",
        payment["refundedAmount"].as_str().unwrap_or("?")
    ))
}
