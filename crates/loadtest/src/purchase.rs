//! The whole purchase through order-service, as buyers make it: `POST /v1/orders` with the
//! payment in the same call (hold, charge, allocate, tickets). Two scenarios:
//!
//! - `purchase`: C buyers for T seconds, each ordering 2 seats of its own share of a large event
//!   (no two buyers want the same seats: this measures the saga, not the conflicts);
//! - `onsale`: a hot on-sale, N buyers at once wanting the few seats of a small event, each
//!   retrying until it has a seat or none is left, some cards declined.
//!
//! Both end with the fleet-wide invariant, checked over HTTP: every CONFIRMED order has exactly
//! one successful charge equal to its total and its seats sold; no seat is in two confirmed
//! orders; as many seats are sold as confirmed orders hold; no order that is not CONFIRMED or
//! REFUNDED kept a successful charge.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use rand::seq::SliceRandom;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::drive::{drive, histogram, label};

pub struct Urls {
    pub user: String,
    pub catalog: String,
    pub seating: String,
    pub order: String,
    pub payment: String,
    pub notification: String,
}

pub struct Admin {
    pub email: String,
    pub password: String,
}

#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    urls: Arc<Urls>,
}

impl Client {
    fn new(urls: Urls, connections: usize) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(connections)
                .timeout(Duration::from_secs(60))
                .build()?,
            urls: Arc::new(urls),
        })
    }

    async fn json(
        &self,
        method: reqwest::Method,
        url: String,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self.http.request(method.clone(), &url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(
            status.is_success(),
            "{method} {url} answered {status}: {text}"
        );
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn login(&self, email: &str, password: &str) -> anyhow::Result<(String, String)> {
        let session = self
            .json(
                reqwest::Method::POST,
                format!("{}/v1/auth/login", self.urls.user),
                None,
                Some(&json!({"email": email, "password": password})),
            )
            .await?;
        Ok((
            session["accessToken"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            session["user"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ))
    }

    /// A new account, logged in: its access token.
    async fn account(&self, label: &str) -> anyhow::Result<(String, String)> {
        let email = format!("{label}-{}@loadtest.example", Uuid::now_v7());
        let password = "loadtest password";
        self.json(
            reqwest::Method::POST,
            format!("{}/v1/users", self.urls.user),
            None,
            Some(&json!({"name": "Load Test", "email": email, "password": password})),
        )
        .await?;
        self.login(&email, password).await
    }

    /// The admin's token: an admin may read every order and payment (a service token would
    /// need the `orders:read` scope, which the fleet grants to no one).
    async fn admin_token(&self, admin: &Admin) -> anyhow::Result<String> {
        Ok(self.login(&admin.email, &admin.password).await?.0)
    }

    /// An organizer made by the admin: its token.
    async fn organizer(&self, admin: &Admin) -> anyhow::Result<String> {
        let (admin_token, _) = self
            .login(&admin.email, &admin.password)
            .await
            .context("logging in the admin (ADMIN_EMAIL / ADMIN_PASSWORD of user-service)")?;
        let email = format!("organizer-{}@loadtest.example", Uuid::now_v7());
        let password = "loadtest password";
        let user = self
            .json(
                reqwest::Method::POST,
                format!("{}/v1/users", self.urls.user),
                None,
                Some(&json!({"name": "Load Organizer", "email": email, "password": password})),
            )
            .await?;
        self.json(
            reqwest::Method::PATCH,
            format!(
                "{}/v1/users/{}/role",
                self.urls.user,
                user["id"].as_str().unwrap_or_default()
            ),
            Some(&admin_token),
            Some(&json!({"role": "organizer"})),
        )
        .await?;
        Ok(self.login(&email, password).await?.0)
    }

    /// A published event of `seats` seats (rows of 50) at 25.00 EUR: its id and seat ids.
    async fn event(&self, organizer: &str, seats: usize) -> anyhow::Result<(String, Vec<String>)> {
        let venue = self
            .json(
                reqwest::Method::POST,
                format!("{}/v1/venues", self.urls.catalog),
                Some(organizer),
                Some(&json!({"name": "Load Arena", "city": "Lisbon", "capacity": seats.max(1)})),
            )
            .await?;
        let starts = chrono_like_in_30_days();
        let event = self
            .json(
                reqwest::Method::POST,
                format!("{}/v1/events", self.urls.catalog),
                Some(organizer),
                Some(&json!({
                    "title": "Load Test Night", "eventType": "concert", "venueId": venue["id"],
                    "startsAt": starts, "currency": "EUR", "basePrice": "25.00",
                })),
            )
            .await?;
        let id = event["id"].as_str().unwrap_or_default().to_owned();
        let per_row = seats.min(50);
        let rows = seats.div_ceil(per_row);
        self.json(
            reqwest::Method::PUT,
            format!("{}/v1/events/{id}/seats", self.urls.catalog),
            Some(organizer),
            Some(&json!({"layout": [{"section": "Floor", "rows": rows, "seatsPerRow": per_row}]})),
        )
        .await?;
        self.json(
            reqwest::Method::POST,
            format!("{}/v1/events/{id}/publish", self.urls.catalog),
            Some(organizer),
            Some(&json!({})),
        )
        .await?;
        let list = self
            .json(
                reqwest::Method::GET,
                format!("{}/v1/events/{id}/seats", self.urls.catalog),
                None,
                None,
            )
            .await?;
        let mut ids: Vec<String> = list["items"]
            .as_array()
            .context("a seat list")?
            .iter()
            .filter_map(|s| s["seatId"].as_str().map(str::to_owned))
            .collect();
        ids.truncate(seats);
        Ok((id, ids))
    }

    /// Buyers, registered and logged in, a few at a time (registration hashes a password).
    async fn buyers(&self, n: usize) -> anyhow::Result<Vec<Arc<str>>> {
        use futures::StreamExt;
        let tokens: Vec<anyhow::Result<(String, String)>> = futures::stream::iter(0..n)
            .map(|_| self.account("buyer"))
            .buffer_unordered(16)
            .collect()
            .await;
        tokens
            .into_iter()
            .map(|t| t.map(|(token, _)| Arc::from(token)))
            .collect()
    }

    async fn order(
        &self,
        buyer: &str,
        event: &str,
        seats: &[String],
        card: &str,
    ) -> reqwest::Result<reqwest::Response> {
        self.order_with_key(buyer, event, seats, card, Uuid::now_v7())
            .await
    }

    async fn order_with_key(
        &self,
        buyer: &str,
        event: &str,
        seats: &[String],
        card: &str,
        key: Uuid,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}/v1/orders", self.urls.order))
            .bearer_auth(buyer)
            .header("idempotency-key", key.to_string())
            .json(&json!({
                "eventId": event, "seatIds": seats,
                "payment": {"method": "card", "token": card},
            }))
            .send()
            .await
    }
}

/// `startsAt` 30 days from now, RFC 3339 (without a date crate: the load test keeps its
/// dependencies to HTTP and JSON).
fn chrono_like_in_30_days() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + 30 * 86_400;
    let days = now / 86_400;
    let (y, m, d) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}T20:00:00Z")
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub struct PurchaseOptions {
    pub seats: usize,
    pub concurrency: usize,
    pub duration: Duration,
    /// Times an order that got no answer is sent again with the same `Idempotency-Key`.
    pub retry_unavailable: u32,
    /// How long to wait for orders left mid-saga (a replica killed) to settle.
    pub settle: Duration,
    /// Whether every confirmed order's receipt must be `SENT` by notification-service.
    pub check_emails: bool,
}

/// Whether an answer means "nobody decided": the request may be sent again with the same
/// `Idempotency-Key` (a balancer's 502/503/504, a dropped connection, or the key still claimed
/// by a replica that died mid-request, until the claim is taken over).
fn undecided(sent: &reqwest::Result<reqwest::Response>) -> bool {
    match sent {
        Err(_) => true,
        Ok(r) if matches!(r.status().as_u16(), 502..=504) => true,
        // The kit's `idempotency-in-flight` is the only 409 that says when to come back.
        Ok(r) => {
            r.status() == StatusCode::CONFLICT
                && r.headers().contains_key(reqwest::header::RETRY_AFTER)
        }
    }
}

/// C buyers ordering 2 seats each, with the payment in the call, for T seconds.
pub async fn purchase(urls: Urls, admin: &Admin, options: &PurchaseOptions) -> anyhow::Result<()> {
    let client = Client::new(urls, options.concurrency)?;
    let organizer = client.organizer(admin).await?;
    let (event, seats) = client.event(&organizer, options.seats).await?;
    let buyers = client.buyers(options.concurrency).await?;
    println!(
        "purchase: {} buyers each ordering 2 seats with payment, {}s, event of {} seats",
        options.concurrency,
        options.duration.as_secs(),
        seats.len()
    );
    // Each buyer has its own share of the seats, so no two want the same.
    let share = seats.len() / options.concurrency;
    let seats = Arc::new(seats);
    let event: Arc<str> = Arc::from(event);
    let event_id = event.clone();
    let retry = options.retry_unavailable;
    let stats = drive(
        "POST /v1/orders (2 seats, paid)",
        options.concurrency,
        options.duration,
        {
            let client = client.clone();
            move |worker, iteration| {
                let (client, seats, event, buyer) = (
                    client.clone(),
                    seats.clone(),
                    event.clone(),
                    buyers[worker].clone(),
                );
                async move {
                    let start = worker * share + usize::try_from(iteration).unwrap_or(0) * 2;
                    if start + 2 > (worker + 1) * share {
                        // This buyer's share is sold; wait out the run.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        return "share-sold".to_owned();
                    }
                    let mine = &seats[start..start + 2];
                    let key = Uuid::now_v7();
                    let mut sent = client
                        .order_with_key(&buyer, &event, mine, "tok_visa", key)
                        .await;
                    let mut retries = 0;
                    while retries < retry && undecided(&sent) {
                        retries += 1;
                        tokio::time::sleep(Duration::from_millis(250)).await;
                        sent = client
                            .order_with_key(&buyer, &event, mine, "tok_visa", key)
                            .await;
                    }
                    let outcome = match sent {
                        // Which conflict: the problem's type names it.
                        Ok(r) if r.status() == StatusCode::CONFLICT => {
                            let problem: Value = r.json().await.unwrap_or(Value::Null);
                            let kind = problem["type"].as_str().unwrap_or_default();
                            format!("409 {}", kind.rsplit('/').next().unwrap_or(kind))
                        }
                        sent => label(sent, StatusCode::CREATED),
                    };
                    if retries > 0 {
                        format!("{outcome} after {retries} retries")
                    } else {
                        outcome
                    }
                }
            }
        },
    )
    .await;
    stats.print();
    let confirmed: u64 = stats
        .outcomes
        .iter()
        .filter(|(outcome, _)| outcome.starts_with("ok"))
        .map(|(_, n)| *n)
        .sum();
    #[allow(clippy::cast_precision_loss)]
    let rate = confirmed as f64 / stats.elapsed.as_secs_f64();
    println!("confirmed orders/s {rate:.1}");
    let admin_token = client.admin_token(admin).await?;
    // Orders a killed replica left mid-saga are resumed by order-service's recovery: the
    // invariant is checked once they have settled (or the wait is over).
    let settle_until = Instant::now() + options.settle;
    let confirmed_ids = loop {
        match check_invariant(&client, &event_id, &admin_token).await {
            Ok(checked) => break checked.confirmed,
            Err(e) if Instant::now() < settle_until => {
                println!("not settled yet ({e}); checking again in 2 s");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(e) => return Err(e),
        }
    };
    if options.check_emails {
        check_receipts(&client, &confirmed_ids, &admin_token, settle_until).await?;
    }
    Ok(())
}

/// Every confirmed order has its receipt `SENT` (waiting until `until` for the sender).
async fn check_receipts(
    client: &Client,
    orders: &[String],
    admin_token: &str,
    until: Instant,
) -> anyhow::Result<()> {
    let mut waiting: Vec<&String> = orders.iter().collect();
    loop {
        let mut still = Vec::new();
        for id in waiting {
            let list = client
                .json(
                    reqwest::Method::GET,
                    format!("{}/v1/notifications?orderId={id}", client.urls.notification),
                    Some(admin_token),
                    None,
                )
                .await?;
            let sent = list["items"].as_array().is_some_and(|items| {
                items
                    .iter()
                    .any(|n| n["type"] == "order.confirmed" && n["status"] == "SENT")
            });
            if !sent {
                still.push(id);
            }
        }
        if still.is_empty() {
            println!(
                "every confirmed order's receipt is SENT ({} e-mails)",
                orders.len()
            );
            return Ok(());
        }
        ensure!(
            Instant::now() < until,
            "{} confirmed orders have no SENT receipt, e.g. {}",
            still.len(),
            still[0]
        );
        println!(
            "{} receipts not sent yet; checking again in 2 s",
            still.len()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        waiting = still;
    }
}

pub struct OnSaleOptions {
    pub buyers: usize,
    pub seats: usize,
    /// Every n-th buyer's card is declined (0: none).
    pub decline_every: usize,
}

/// `loadtest event`: a published event of `seats` seats (rows of 50) by a new organizer; prints
/// its id alone, for a script to measure on.
pub async fn published_event(urls: Urls, admin: &Admin, seats: usize) -> anyhow::Result<()> {
    let client = Client::new(urls, 1)?;
    let organizer = client.organizer(admin).await?;
    let (event, ids) = client.event(&organizer, seats).await?;
    ensure!(
        ids.len() == seats,
        "the event has {} seats, not {seats}",
        ids.len()
    );
    println!("{event}");
    Ok(())
}

/// N buyers at once for a few seats: each retries with another free seat until it has one or
/// none is left.
pub async fn onsale(urls: Urls, admin: &Admin, options: &OnSaleOptions) -> anyhow::Result<()> {
    let client = Client::new(urls, options.buyers)?;
    let organizer = client.organizer(admin).await?;
    let (event, _) = client.event(&organizer, options.seats).await?;
    println!("on-sale: registering {} buyers", options.buyers);
    let buyers = client.buyers(options.buyers).await?;
    println!(
        "on-sale: {} buyers at once for {} seats, every {}th card declined",
        options.buyers, options.seats, options.decline_every
    );
    let started = Instant::now();
    let event: Arc<str> = Arc::from(event);
    let attempts = buyers.into_iter().enumerate().map(|(n, buyer)| {
        let (client, event) = (client.clone(), event.clone());
        let declined = options.decline_every > 0 && n % options.decline_every == 0;
        tokio::spawn(async move { buy_one(&client, &event, &buyer, declined).await })
    });
    let mut outcomes = BTreeMap::<String, u64>::new();
    let mut latencies = histogram();
    for attempt in futures::future::join_all(attempts).await {
        let (statuses, took) = attempt.context("a buyer panicked")??;
        latencies.saturating_record(u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1));
        for status in statuses {
            *outcomes.entry(status).or_default() += 1;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let ms = |q: f64| latencies.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "on-sale done in {:.1} s; answers by status {outcomes:?}; time to a final answer per buyer p50 {:.0} ms, p99 {:.0} ms",
        started.elapsed().as_secs_f64(),
        ms(0.5),
        ms(0.99)
    );
    let server_errors: u64 = outcomes
        .iter()
        .filter(|(status, _)| {
            status.starts_with('5')
                || status.as_str() == "transport-error"
                || status.as_str() == "timeout"
        })
        .map(|(_, n)| n)
        .sum();
    let sold = check_invariant(&client, &event, &client.admin_token(admin).await?)
        .await?
        .sold;
    ensure!(
        server_errors == 0,
        "{server_errors} answers were 5xx or failed"
    );
    ensure!(
        sold == options.seats,
        "{sold} of {} seats sold",
        options.seats
    );
    println!("every seat sold exactly once; no buyer got a 5xx");
    Ok(())
}

/// One buyer: picks a free seat and orders it, again and again on 409, until it has one, is
/// declined, or nothing is left. Its answers, and the time to its last.
async fn buy_one(
    client: &Client,
    event: &str,
    buyer: &str,
    declined: bool,
) -> anyhow::Result<(Vec<String>, Duration)> {
    let started = Instant::now();
    let mut answers = Vec::new();
    let card = if declined {
        "tok_chargeDeclined"
    } else {
        "tok_visa"
    };
    loop {
        let free = client
            .json(
                reqwest::Method::GET,
                format!(
                    "{}/v1/seats?eventId={event}&status=AVAILABLE&limit=100",
                    client.urls.seating
                ),
                None,
                None,
            )
            .await?;
        let ids: Vec<String> = free["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter_map(|s| s["seatId"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let Some(seat) = ids.choose(&mut rand::thread_rng()).cloned() else {
            answers.push("sold-out".to_owned());
            return Ok((answers, started.elapsed()));
        };
        let status = label(
            client.order(buyer, event, &[seat], card).await,
            StatusCode::CREATED,
        );
        let done = status != "409";
        answers.push(if status == "ok" {
            "201".to_owned()
        } else {
            status
        });
        if done {
            return Ok((answers, started.elapsed()));
        }
    }
}

/// What the invariant check found.
struct Checked {
    sold: usize,
    /// The ids of the confirmed orders.
    confirmed: Vec<String>,
}

/// The fleet-wide invariant over one event's orders, payments and seats (over HTTP, as the
/// admin). Prints what it checked.
async fn check_invariant(
    client: &Client,
    event: &str,
    admin_token: &str,
) -> anyhow::Result<Checked> {
    let mut confirmed_ids = Vec::new();
    let orders = event_orders(client, event, admin_token).await?;
    let status_of = seat_statuses(client, event).await?;
    let sold = status_of.values().filter(|s| *s == "SOLD").count();
    let mut confirmed = 0;
    let mut seats_confirmed = HashSet::new();
    for order in &orders {
        let id = order["id"].as_str().unwrap_or_default();
        let payments = client
            .json(
                reqwest::Method::GET,
                format!("{}/v1/payments?orderId={id}", client.urls.payment),
                Some(admin_token),
                None,
            )
            .await?;
        let successful: Vec<&Value> = payments["items"]
            .as_array()
            .map(|p| p.iter().filter(|p| p["status"] == "SUCCESS").collect())
            .unwrap_or_default();
        match order["status"].as_str() {
            Some("CONFIRMED") => {
                confirmed += 1;
                confirmed_ids.push(id.to_owned());
                ensure!(
                    successful.len() == 1,
                    "order {id} is CONFIRMED with {} successful charges",
                    successful.len()
                );
                ensure!(
                    successful[0]["amount"] == order["total"],
                    "order {id}: charged {} for a total of {}",
                    successful[0]["amount"],
                    order["total"]
                );
                let items = order["items"].as_array().context("items")?;
                ensure!(
                    order["tickets"].as_array().map(Vec::len) == Some(items.len()),
                    "order {id}: one ticket per seat"
                );
                for item in items {
                    let seat = item["seatId"].as_str().unwrap_or_default().to_owned();
                    ensure!(
                        status_of.get(&seat).map(String::as_str) == Some("SOLD"),
                        "order {id}: seat {seat} is not SOLD"
                    );
                    ensure!(
                        seats_confirmed.insert(seat.clone()),
                        "seat {seat} is in two confirmed orders"
                    );
                }
            }
            Some(status) => {
                if !successful.is_empty() {
                    bail!("order {id} is {status} but kept a successful charge");
                }
            }
            None => bail!("an order without a status"),
        }
    }
    ensure!(
        sold == seats_confirmed.len(),
        "{sold} seats SOLD but {} in confirmed orders",
        seats_confirmed.len()
    );
    println!(
        "invariant holds: {} orders ({confirmed} CONFIRMED, each with one successful charge of its total and its seats sold), {sold} seats sold, each in exactly one confirmed order; no other order kept a charge",
        orders.len()
    );
    Ok(Checked {
        sold,
        confirmed: confirmed_ids,
    })
}

/// Every order of the event (the admin lists them all), page by page.
async fn event_orders(client: &Client, event: &str, token: &str) -> anyhow::Result<Vec<Value>> {
    let mut orders = Vec::new();
    for page in 1.. {
        let list = client
            .json(
                reqwest::Method::GET,
                format!(
                    "{}/v1/orders?eventId={event}&limit=100&page={page}",
                    client.urls.order
                ),
                Some(token),
                None,
            )
            .await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        if items.is_empty() {
            break;
        }
        orders.extend(items);
    }
    Ok(orders)
}

/// Seating's status of every seat of the event, by seat id (the list is paged: all pages).
async fn seat_statuses(client: &Client, event: &str) -> anyhow::Result<HashMap<String, String>> {
    let mut statuses = HashMap::new();
    for page in 1.. {
        let seats = client
            .json(
                reqwest::Method::GET,
                format!(
                    "{}/v1/seats?eventId={event}&limit=100&page={page}",
                    client.urls.seating
                ),
                None,
                None,
            )
            .await?;
        let items = seats["items"].as_array().context("a seat list")?;
        if items.is_empty() {
            break;
        }
        statuses.extend(items.iter().map(|s| {
            (
                s["seatId"].as_str().unwrap_or_default().to_owned(),
                s["status"].as_str().unwrap_or_default().to_owned(),
            )
        }));
    }
    Ok(statuses)
}
