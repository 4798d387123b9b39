//! seating-service under an on-sale crowd: C buyers each hold k random seats and let them go,
//! over HTTP, then the same statements straight against Postgres by C connections (the raw
//! database limit), then the invariant is checked in the database.

use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::drive::{Stats, drive};

pub struct Options {
    pub seating_url: String,
    pub user_url: String,
    pub database_url: String,
    pub seats: usize,
    pub concurrency: usize,
    pub per_hold: usize,
    pub duration: Duration,
    /// Sell this fraction of the seats before measuring (0.99: the last 1 % of a hot event).
    pub sold_fraction: f64,
    /// Every n-th hold a buyer gets is sold (allocated to an order) instead of released, so the
    /// closing invariant check also covers sales racing holds. 0: never.
    pub sell_every: u64,
}

#[derive(Clone)]
struct Seating {
    http: reqwest::Client,
    base: Arc<str>,
    token: Arc<str>,
}

impl Seating {
    async fn send(&self, path: &str, body: &Value) -> reqwest::Result<reqwest::Response> {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&*self.token)
            .json(body)
            .send()
            .await
    }
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let token: Value = http
        .post(format!(
            "{}/v1/auth/service-token",
            options.user_url.trim_end_matches('/')
        ))
        .json(&json!({"clientId": "order-service", "clientSecret": "dev-secret-order-service"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let seating = Seating {
        http,
        base: Arc::from(options.seating_url.trim_end_matches('/')),
        token: Arc::from(token["accessToken"].as_str().unwrap_or_default()),
    };
    let pool = PgPoolOptions::new()
        .max_connections(u32::try_from(options.concurrency).unwrap_or(64) + 2)
        .connect(&options.database_url)
        .await?;
    println!(
        "seating: {} seats, {} buyers holding {} seats each, {}s per run, {:.0}% sold beforehand",
        options.seats,
        options.concurrency,
        options.per_hold,
        options.duration.as_secs(),
        options.sold_fraction * 100.0
    );

    let (event, free) = prepare_event(&seating, options.seats, options.sold_fraction).await?;
    let over_http = http_run(&seating, event, &free, &options).await;
    over_http.print();

    let (raw_event, raw_free) =
        prepare_event(&seating, options.seats, options.sold_fraction).await?;
    let raw = raw_run(&pool, raw_event, &raw_free, &options).await;
    raw.print();

    println!(
        "HTTP holds/s {:.0}, raw SQL holds/s {:.0}, ratio {:.2}; conflict rate HTTP {:.1}%, raw {:.1}%",
        holds_per_second(&over_http),
        holds_per_second(&raw),
        holds_per_second(&over_http) / holds_per_second(&raw),
        conflict_rate(&over_http) * 100.0,
        conflict_rate(&raw) * 100.0,
    );
    check_invariant(&pool).await?;
    let sold: i64 =
        sqlx::query_scalar("SELECT count(*) FROM seats WHERE sold_order_id IS NOT NULL")
            .fetch_one(&pool)
            .await?;
    println!(
        "invariant checked in the database over {sold} sold seats: no seat in two active holds, no seat sold twice"
    );
    Ok(())
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn holds_per_second(stats: &Stats) -> f64 {
    stats.outcomes.get("held").copied().unwrap_or(0) as f64 / stats.elapsed.as_secs_f64()
}

#[allow(clippy::cast_precision_loss)]
fn conflict_rate(stats: &Stats) -> f64 {
    let conflicts = stats.outcomes.get("conflict").copied().unwrap_or(0) as f64;
    conflicts / stats.requests().max(1) as f64
}

/// A fresh event with `seats` seats, `sold_fraction` of them sold through the API; the ids of
/// the seats left.
async fn prepare_event(
    seating: &Seating,
    seats: usize,
    sold_fraction: f64,
) -> anyhow::Result<(Uuid, Arc<[Uuid]>)> {
    let event = Uuid::now_v7();
    let ids: Vec<Uuid> = (0..seats).map(|_| Uuid::now_v7()).collect();
    for (chunk_no, chunk) in ids
        .chunks(seating_service::api::MAX_INVENTORY_SEATS)
        .enumerate()
    {
        let section = format!("S{chunk_no}");
        let body: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(i, id)| json!({"seatId": id, "section": section, "row": format!("R{}", i / 50), "number": i % 50 + 1, "price": "75.00"}))
            .collect();
        seating
            .http
            .put(format!("{}/v1/events/{event}/inventory", seating.base))
            .bearer_auth(&*seating.token)
            .json(&json!({"currency": "EUR", "seats": body}))
            .send()
            .await?
            .error_for_status()?;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let to_sell = ((seats as f64) * sold_fraction) as usize;
    for batch in ids[..to_sell].chunks(10) {
        let hold: Value = seating
            .send(
                "/v1/seats/reserve",
                &json!({"eventId": event, "seatIds": batch, "holderId": Uuid::now_v7()}),
            )
            .await?
            .error_for_status()?
            .json()
            .await?;
        seating
            .send(
                "/v1/seats/allocate",
                &json!({"holdId": hold["holdId"], "orderId": Uuid::now_v7()}),
            )
            .await?
            .error_for_status()?;
    }
    Ok((event, ids[to_sell..].to_vec().into()))
}

fn pick(free: &[Uuid], k: usize) -> Vec<Uuid> {
    free.choose_multiple(&mut rand::thread_rng(), k)
        .copied()
        .collect()
}

/// Whether a buyer's `iteration`-th hold is sold rather than released.
fn sells(sell_every: u64, iteration: u64) -> bool {
    sell_every > 0 && iteration % sell_every == sell_every - 1
}

/// Buyers over HTTP: reserve k random seats; on success release them at once (the seats go back
/// into play, so the run measures steady contention rather than a sell-out), or, every n-th time,
/// allocate them to an order.
async fn http_run(seating: &Seating, event: Uuid, free: &Arc<[Uuid]>, options: &Options) -> Stats {
    let (seating, free, k, sell_every) = (
        seating.clone(),
        free.clone(),
        options.per_hold,
        options.sell_every,
    );
    drive(
        "HTTP reserve (+release)",
        options.concurrency,
        options.duration,
        move |_, i| {
            let (seating, wanted) = (seating.clone(), pick(&free, k));
            let sell = sells(sell_every, i);
            async move {
                let body = json!({"eventId": event, "seatIds": wanted, "holderId": Uuid::now_v7()});
                let Ok(response) = seating.send("/v1/seats/reserve", &body).await else {
                    return "transport-error".into();
                };
                match response.status() {
                    StatusCode::CREATED => {
                        let hold: Value = response.json().await.unwrap_or_default();
                        let (path, body) = if sell {
                            (
                                "/v1/seats/allocate",
                                json!({"holdId": hold["holdId"], "orderId": Uuid::now_v7()}),
                            )
                        } else {
                            ("/v1/seats/release", json!({"holdId": hold["holdId"]}))
                        };
                        match seating.send(path, &body).await {
                            Ok(r) if r.status().is_success() => "held".into(),
                            _ => "release-failed".into(),
                        }
                    }
                    StatusCode::CONFLICT => "conflict".into(),
                    other => other.as_u16().to_string(),
                }
            }
        },
    )
    .await
}

/// The same reserve and release, as seating-service runs them, straight on the database.
async fn raw_run(pool: &PgPool, event: Uuid, free: &Arc<[Uuid]>, options: &Options) -> Stats {
    let (pool, free, k, sell_every) = (
        pool.clone(),
        free.clone(),
        options.per_hold,
        options.sell_every,
    );
    drive(
        "raw SQL reserve (+release)",
        options.concurrency,
        options.duration,
        move |_, i| {
            let (pool, wanted) = (pool.clone(), pick(&free, k));
            let sell = sells(sell_every, i);
            async move {
                match raw_hold_and_release(&pool, event, wanted, sell).await {
                    Ok(true) => "held".into(),
                    Ok(false) => "conflict".into(),
                    Err(e) => format!("error: {e}"),
                }
            }
        },
    )
    .await
}

async fn raw_hold_and_release(
    pool: &PgPool,
    event: Uuid,
    mut wanted: Vec<Uuid>,
    sell: bool,
) -> sqlx::Result<bool> {
    use seating_service::db::{events, holds, seats};
    use seating_service::domain::HoldStatus;
    let ttl = Duration::from_secs(900);
    wanted.sort_unstable();
    events::find(pool, event).await?;
    let hold = Uuid::now_v7();
    let mut tx = pool.begin().await?;
    holds::insert(&mut tx, hold, event, Uuid::now_v7(), ttl).await?;
    let claimed = seats::claim(&mut tx, hold, event, &wanted, ttl).await?;
    if claimed.len() < wanted.len() {
        tx.rollback().await?;
        return Ok(false);
    }
    holds::insert_seats(&mut tx, hold, &claimed).await?;
    tx.commit().await?;
    let mut tx = pool.begin().await?;
    if sell {
        // As the service allocates: event row, hold, seats, counter.
        let order = Uuid::now_v7();
        events::lock(&mut tx, event).await?;
        holds::lock(&mut tx, hold).await?;
        let sold = seats::sell_hold(&mut tx, hold, order).await?;
        holds::allocate(&mut tx, hold, order).await?;
        events::adjust_unsold(&mut tx, event, -i32::try_from(sold).unwrap_or(0)).await?;
    } else {
        holds::lock(&mut tx, hold).await?;
        holds::set_status(&mut tx, hold, HoldStatus::Released).await?;
        seats::free_hold(&mut tx, hold).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// The invariant, checked over every event in the database.
async fn check_invariant(pool: &PgPool) -> anyhow::Result<()> {
    let double_held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
            SELECT hs.seat_id FROM hold_seats hs JOIN holds h ON h.id = hs.hold_id
            WHERE h.status = 'ACTIVE' AND h.expires_at > now()
            GROUP BY hs.seat_id HAVING count(*) > 1) twice",
    )
    .fetch_one(pool)
    .await?;
    let double_sold: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
            SELECT hs.seat_id FROM hold_seats hs JOIN holds h ON h.id = hs.hold_id
            WHERE h.status = 'ALLOCATED' GROUP BY hs.seat_id HAVING count(*) > 1) twice",
    )
    .fetch_one(pool)
    .await?;
    anyhow::ensure!(
        double_held == 0,
        "{double_held} seats are in two active holds"
    );
    anyhow::ensure!(double_sold == 0, "{double_sold} seats were sold twice");
    Ok(())
}
