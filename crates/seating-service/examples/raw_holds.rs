//! The raw database limit of holds: C connections run the very statements seating-service runs
//! for a reserve and then a release (or, every n-th time, an allocation to an order), the
//! functions of [`seating_service::db`] in the service's lock order, with no HTTP, JSON or token
//! in between. `loadtest seating` drives the same load over HTTP; `scripts/bench-seating.sh` runs
//! both against the same database and prints the ratio. Last, the seat invariant is checked over
//! every event in the database, so it also covers the holds and sales of an HTTP run before.
//!
//! ```text
//! cargo run --release -p seating-service --example raw_holds -- \
//!     --database-url postgres://postgres:postgres@localhost:5432/ticketing_seating \
//!     -n 2000 -c 32 -k 2 -d 10 [--sold-fraction 0.99] [--sell-every 50]
//! ```
//!
//! The database is created and migrated when missing; each run adds a fresh event.

#![allow(clippy::print_stdout)] // a benchmark's output is its report

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use rand::seq::SliceRandom;
use seating_service::db::MIGRATIONS;
use seating_service::db::seats::NewSeat;
use seating_service::db::{events, holds, seats};
use seating_service::domain::EventStatus;
use secrecy::SecretString;
use service_kit::money::{Currency, Money};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Parser)]
#[command(about = "seating-service's hold statements straight against Postgres")]
struct Args {
    /// seating-service's database (the one `loadtest seating` just ran against, to compare).
    #[arg(
        long,
        default_value = "postgres://postgres:postgres@localhost:5432/ticketing_seating"
    )]
    database_url: String,
    #[arg(long, short = 'n', default_value_t = 2_000)]
    seats: usize,
    /// Concurrent connections, each a buyer.
    #[arg(long, short, default_value_t = 32)]
    concurrency: usize,
    /// Seats per hold.
    #[arg(long, short, default_value_t = 2)]
    k: usize,
    /// Seconds of the run.
    #[arg(long, short, default_value_t = 10)]
    duration: u64,
    /// Sell this fraction first (0.99 measures the last 1 % of an almost sold-out event).
    #[arg(long, default_value_t = 0.0)]
    sold_fraction: f64,
    /// Sell every n-th hold instead of releasing it (0: never).
    #[arg(long, default_value_t = 50)]
    sell_every: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pool = service_kit::db::connect_and_migrate(
        &SecretString::from(args.database_url.clone()),
        u32::try_from(args.concurrency).unwrap_or(64) + 2,
        &MIGRATIONS,
    )
    .await?;
    println!(
        "seating as raw SQL: {} seats, {} connections holding {} seats each, {}s, {:.0}% sold beforehand",
        args.seats,
        args.concurrency,
        args.k,
        args.duration,
        args.sold_fraction * 100.0
    );

    let (event, free) = prepare_event(&pool, args.seats, args.sold_fraction).await?;
    let raw = raw_run(&pool, event, &free, &args).await;
    raw.print();
    println!(
        "raw SQL holds/s {:.0}, conflict rate {:.1}%",
        raw.holds_per_second(),
        raw.conflict_rate() * 100.0,
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

/// A fresh event with `seats` seats (as the inventory upsert writes them), `sold_fraction` of
/// them sold by the same statements as the run; the ids of the seats left.
async fn prepare_event(
    pool: &PgPool,
    seats: usize,
    sold_fraction: f64,
) -> anyhow::Result<(Uuid, Arc<[Uuid]>)> {
    let event = Uuid::now_v7();
    let price = Money::parse("75.00")?;
    let inventory: Vec<NewSeat> = (0..seats)
        .map(|i| NewSeat {
            id: Uuid::now_v7(),
            section: "S0".to_owned(),
            row: format!("R{}", i / 50),
            number: i32::try_from(i % 50).unwrap_or(0) + 1,
            price,
        })
        .collect();
    let mut tx = pool.begin().await?;
    let currency = Currency::parse("EUR").map_err(anyhow::Error::msg)?;
    events::upsert_locked(&mut tx, event, currency, EventStatus::OnSale).await?;
    seats::upsert(&mut tx, event, &inventory, None).await?;
    tx.commit().await?;

    let ids: Vec<Uuid> = inventory.iter().map(|s| s.id).collect();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let to_sell = ((seats as f64) * sold_fraction) as usize;
    for batch in ids[..to_sell].chunks(10) {
        anyhow::ensure!(
            hold_then_release_or_sell(pool, event, batch.to_vec(), true).await?,
            "a seat of a fresh event was taken"
        );
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

/// Buyers on the database: hold k random seats; on success release them at once (the seats go
/// back into play, so the run measures steady contention rather than a sell-out), or, every n-th
/// time, sell them to an order.
async fn raw_run(pool: &PgPool, event: Uuid, free: &Arc<[Uuid]>, args: &Args) -> Stats {
    let (pool, free, k, sell_every) = (pool.clone(), free.clone(), args.k, args.sell_every);
    drive(
        "raw SQL reserve (+release)",
        args.concurrency,
        Duration::from_secs(args.duration),
        move |i| {
            let (pool, wanted) = (pool.clone(), pick(&free, k));
            let sell = sells(sell_every, i);
            async move {
                match hold_then_release_or_sell(&pool, event, wanted, sell).await {
                    Ok(true) => "held".into(),
                    Ok(false) => "conflict".into(),
                    Err(e) => format!("error: {e}"),
                }
            }
        },
    )
    .await
}

/// A reserve, then a release or an allocation, as seating-service sends them: the reserve and
/// the release one statement each (`db::holds::reserve`, `db::holds::release`), the allocation
/// `holds::allocate`'s statements in its order. `false`: some of the seats were taken (the
/// service's 409).
async fn hold_then_release_or_sell(
    pool: &PgPool,
    event: Uuid,
    mut wanted: Vec<Uuid>,
    sell: bool,
) -> sqlx::Result<bool> {
    let ttl = Duration::from_secs(900);
    wanted.sort_unstable();
    let hold = Uuid::now_v7();
    let rows = holds::reserve(pool, hold, event, Uuid::now_v7(), &wanted, ttl, 10).await?;
    if rows.iter().any(|row| row.outcome != "held") {
        return Ok(false);
    }
    if sell {
        // As the service allocates: the hold, then its seats.
        let mut tx = pool.begin().await?;
        let order = Uuid::now_v7();
        holds::lock(&mut tx, hold).await?;
        holds::seats_of(&mut *tx, hold).await?;
        seats::sell_hold(&mut tx, hold, order).await?;
        holds::allocate(&mut tx, hold, order).await?;
        tx.commit().await?;
    } else {
        holds::release(pool, hold, None).await?;
    }
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

/// What a run measured: latencies in microseconds, outcomes counted by label. Printed in the
/// layout of loadtest's, so the two runs line up.
struct Stats {
    name: String,
    latencies: Histogram<u64>,
    outcomes: BTreeMap<String, u64>,
    elapsed: Duration,
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
impl Stats {
    fn count(&self, outcome: &str) -> f64 {
        self.outcomes.get(outcome).copied().unwrap_or(0) as f64
    }

    fn holds_per_second(&self) -> f64 {
        self.count("held") / self.elapsed.as_secs_f64()
    }

    fn conflict_rate(&self) -> f64 {
        self.count("conflict") / self.latencies.len().max(1) as f64
    }

    fn print(&self) {
        let ms = |q: f64| self.latencies.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "{:<28} {:>8} req {:>9.1} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  {:?}",
            self.name,
            self.latencies.len(),
            self.latencies.len() as f64 / self.elapsed.as_secs_f64(),
            ms(0.50),
            ms(0.95),
            ms(0.99),
            ms(1.0),
            self.outcomes,
        );
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant figures.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds")
}

/// A closed loop: `concurrency` workers each run `request(iteration)`, wait for it and run the
/// next, for `duration`.
async fn drive<F, Fut>(name: &str, concurrency: usize, duration: Duration, request: F) -> Stats
where
    F: Fn(u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = String> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let workers = (0..concurrency).map(|_| {
        let request = request.clone();
        tokio::spawn(async move {
            let mut latencies = histogram();
            let mut outcomes = BTreeMap::<String, u64>::new();
            let mut iteration = 0;
            while Instant::now() < deadline {
                let sent = Instant::now();
                let outcome = request(iteration).await;
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                latencies.saturating_record(micros.max(1));
                *outcomes.entry(outcome).or_default() += 1;
                iteration += 1;
            }
            (latencies, outcomes)
        })
    });
    let mut stats = Stats {
        name: name.to_owned(),
        latencies: histogram(),
        outcomes: BTreeMap::new(),
        elapsed: Duration::ZERO,
    };
    for worker in futures::future::join_all(workers).await {
        let (latencies, outcomes) = worker.expect("a benchmark worker panicked");
        stats
            .latencies
            .add(latencies)
            .expect("histograms share bounds");
        for (outcome, n) in outcomes {
            *stats.outcomes.entry(outcome).or_default() += n;
        }
    }
    stats.elapsed = started.elapsed();
    stats
}
