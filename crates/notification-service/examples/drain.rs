//! How fast notification-service empties its backlog: e-mails per second to a local SMTP server
//! at several send concurrencies, and how long a backlog takes to drain after an SMTP outage.
//!
//! Everything is the service's own code path: notifications are written with the consumer's
//! insert ([`notification_service::db::notifications::insert`]), and the service is assembled by
//! the kit (`service_kit::app::build`) and its supervised sender started, exactly as `main` runs
//! it; only the HTTP delivery of the messages is left out. The SMTP server is the tests' sink
//! (`tests/api/smtp.rs`), in this process, on 127.0.0.1: a real SMTP conversation per e-mail,
//! over the sender's pool of connections. Each e-mail is a receipt with `--tickets` QR codes.
//!
//! ```text
//! cargo run --release -p notification-service --example drain -- \
//!     --database-url postgres://postgres:postgres@localhost:5432/ticketing_bench_notifications \
//!     -n 10000 --concurrency 8,32 --outage-seconds 30
//! ```
//!
//! The database is created and migrated when missing; its notifications are deleted first.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // a benchmark's output is its report

#[path = "../tests/api/smtp.rs"]
mod smtp;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use chrono::Utc;
use clap::Parser;
use notification_service::Notifications;
use notification_service::db::MIGRATIONS;
use notification_service::db::notifications::{self, NewNotification};
use notification_service::domain::NotificationType;
use secrecy::SecretString;
use service_kit::config::Env;
use service_kit::messages::payloads::{OrderConfirmed, OrderNotice, TicketNotice, VenueNotice};
use service_kit::money::Money;
use sqlx::PgPool;
use uuid::Uuid;

use crate::smtp::{SmtpSink, url_of};

#[derive(Parser)]
#[command(about = "notification-service's sender against a local SMTP server")]
struct Args {
    #[arg(
        long,
        default_value = "postgres://postgres:postgres@localhost:5432/ticketing_bench_notifications"
    )]
    database_url: String,
    /// Notifications in each backlog.
    #[arg(short = 'n', long, default_value_t = 10_000)]
    notifications: usize,
    /// Send concurrencies to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "8,32")]
    concurrency: Vec<usize>,
    /// E-tickets (QR codes) per receipt.
    #[arg(long, default_value_t = 2)]
    tickets: i32,
    /// How long the SMTP server is down in the outage run (0: skip the run).
    #[arg(long, default_value_t = 30)]
    outage_seconds: u64,
    /// Send concurrency of the outage run (the service's default).
    #[arg(long, default_value_t = 8)]
    outage_concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let pool = service_kit::db::connect_and_migrate(
        &SecretString::from(args.database_url.clone()),
        // The service's default DB_MAX_CONNECTIONS.
        10,
        &MIGRATIONS,
    )
    .await?;
    sqlx::query("TRUNCATE notifications, inbox")
        .execute(&pool)
        .await?;
    let sink = SmtpSink::start().await;
    println!(
        "notification-service sender: {} receipts of {} tickets each, SMTP sink on {}",
        args.notifications, args.tickets, sink.address
    );

    for &concurrency in &args.concurrency {
        sink.clear();
        let enqueue = enqueue(&pool, args.notifications, args.tickets).await?;
        let app = build(&pool, &sink.url(), concurrency, "2000").await?;
        let started = Instant::now();
        let running = app.start_tasks();
        wait_until_drained(&pool, Duration::from_secs(600)).await?;
        let took = started.elapsed();
        running.stop().await;
        let rate = rate(args.notifications, took);
        let (count, sum) = send_histogram(&app.metrics);
        println!(
            "concurrency {concurrency:>3}: {} e-mails in {:.2} s = {rate:.0} e-mails/s; \
             mean send {:.1} ms; enqueue {:.0}/s; {}",
            args.notifications,
            took.as_secs_f64(),
            sum / count * 1000.0,
            rate_of(args.notifications, enqueue),
            check(&sink, args.notifications),
        );
        sqlx::query("TRUNCATE notifications").execute(&pool).await?;
    }

    if args.outage_seconds > 0 {
        let address = SmtpSink::free_address();
        enqueue(&pool, args.notifications, args.tickets).await?;
        let concurrency = args.outage_concurrency;
        let app = build(&pool, &url_of(address), concurrency, "2000").await?;
        let running = app.start_tasks();
        tokio::time::sleep(Duration::from_secs(args.outage_seconds)).await;
        let (attempts, fewest, most): (i64, i32, i32) = sqlx::query_as(
            "SELECT sum(attempts)::bigint, min(attempts), max(attempts)
             FROM notifications WHERE status = 'PENDING'",
        )
        .fetch_one(&pool)
        .await?;
        let back = SmtpSink::start_on(address).await;
        let started = Instant::now();
        wait_until_drained(&pool, Duration::from_secs(3600)).await?;
        let took = started.elapsed();
        running.stop().await;
        println!(
            "outage of {} s with {} pending (concurrency {concurrency}, back-off 2 s doubling): \
             {attempts} failed attempts during the outage ({fewest} to {most} per notification); \
             drained {:.2} s after it returned; {}",
            args.outage_seconds,
            args.notifications,
            took.as_secs_f64(),
            check(&back, args.notifications),
        );
    }
    Ok(())
}

/// The service as `main` assembles it, over `pool`, sending to `smtp_url`.
async fn build(
    pool: &PgPool,
    smtp_url: &str,
    concurrency: usize,
    first_backoff_ms: &str,
) -> anyhow::Result<service_kit::app::Built<notification_service::state::AppState>> {
    let vars = [
        ("SMTP_URL".to_owned(), smtp_url.to_owned()),
        (
            "NOTIFICATION_SEND_CONCURRENCY".to_owned(),
            concurrency.to_string(),
        ),
        (
            "NOTIFICATION_FIRST_BACKOFF_MS".to_owned(),
            first_backoff_ms.to_owned(),
        ),
        ("NOTIFICATION_IDLE_POLL_MS".to_owned(), "100".to_owned()),
    ];
    let env =
        Env::from_fn(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))?;
    service_kit::app::build::<Notifications>(env, pool.clone()).await
}

/// Writes `count` receipts with the consumer's insert, 500 per transaction; how long it took.
async fn enqueue(pool: &PgPool, count: usize, tickets: i32) -> anyhow::Result<Duration> {
    let started = Instant::now();
    for chunk in 0..count.div_ceil(500) {
        let mut tx = pool.begin().await?;
        for _ in 0..500.min(count - chunk * 500) {
            let notice = OrderConfirmed(receipt(tickets));
            let data = serde_json::to_value(&notice)?;
            let subject = NotificationType::OrderConfirmed.subject(&notice.0.event_title);
            notifications::insert(
                &mut tx,
                &NewNotification {
                    id: Uuid::now_v7(),
                    message_id: Uuid::now_v7(),
                    kind: NotificationType::OrderConfirmed,
                    user_id: notice.0.user_id,
                    order_id: notice.0.order_id,
                    recipient: &notice.0.email,
                    subject: &subject,
                    data: &data,
                    failure: None,
                },
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(started.elapsed())
}

fn receipt(tickets: i32) -> OrderNotice {
    let price = Money::parse("35.00").unwrap();
    let subtotal = Money::from_minor(price.minor() * i64::from(tickets));
    let tax = subtotal.percent_half_up(5);
    let noise = |len: usize| {
        std::iter::repeat_with(|| Uuid::new_v4().simple().to_string())
            .flat_map(|s| s.chars().collect::<Vec<_>>())
            .take(len)
            .collect::<String>()
    };
    let user = Uuid::now_v7();
    OrderNotice {
        order_id: Uuid::now_v7(),
        user_id: user,
        email: format!("buyer-{}@example.com", user.simple()),
        name: "Ada Lovelace".into(),
        event_id: Uuid::now_v7(),
        event_title: "Jazz Night at the Lyric".into(),
        starts_at: Utc::now() + chrono::Duration::days(30),
        venue: VenueNotice {
            name: "Lyric Hall".into(),
            city: "Lisbon".into(),
        },
        currency: "EUR".into(),
        subtotal,
        tax,
        total: subtotal.checked_add(tax).unwrap(),
        tickets: (1..=tickets)
            .map(|n| TicketNotice {
                code: noise(22),
                section: "Stalls".into(),
                row: "C".into(),
                number: n,
                price,
                qr_payload: format!("eyJhbGciOiJFZERTQSJ9.{}.{}", noise(190), noise(86)),
            })
            .collect(),
    }
}

async fn wait_until_drained(pool: &PgPool, limit: Duration) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM notifications WHERE status = 'PENDING'")
                .fetch_one(pool)
                .await?;
        if pending == 0 {
            return Ok(());
        }
        anyhow::ensure!(started.elapsed() < limit, "{pending} still pending");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `count` e-mails received, each once (by `Message-ID`)?
fn check(sink: &SmtpSink, count: usize) -> String {
    let received = sink.received();
    let ids: HashSet<String> = received
        .iter()
        .filter_map(|r| {
            String::from_utf8_lossy(&r.data)
                .lines()
                .find_map(|l| l.strip_prefix("Message-ID: ").map(str::to_owned))
        })
        .collect();
    if received.len() == count && ids.len() == count {
        format!("{count} received, each once")
    } else {
        format!(
            "MISMATCH: {} received, {} distinct, {count} expected",
            received.len(),
            ids.len()
        )
    }
}

fn send_histogram(metrics: &service_kit::metrics::Metrics) -> (f64, f64) {
    let text = metrics.render();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        value("notification_send_duration_seconds_count").max(1.0),
        value("notification_send_duration_seconds_sum"),
    )
}

fn rate(count: usize, took: Duration) -> f64 {
    rate_of(count, took)
}

fn rate_of(count: usize, took: Duration) -> f64 {
    f64::from(u32::try_from(count).unwrap_or(u32::MAX)) / took.as_secs_f64()
}
