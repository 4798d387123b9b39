//! The outbox relay against a real Postgres and a subscriber that never answers: a round stays
//! inside its lease and hands back what it did not reach, so the claims of a relay that dies
//! (a replica killed mid-round) never keep messages from the other replicas for long.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::collections::HashMap;
use std::time::{Duration, Instant};

use service_kit::fleet::Service;
use service_kit::messages::outbox::{self, OutboxMetrics, Relay, RelayPolicy};
use service_kit::messages::payloads::SeatingSoldOut;
use service_kit::metrics::Metrics;
use sqlx::PgPool;
use uuid::Uuid;

/// A subscriber that accepts connections and never answers.
async fn silent_subscriber() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    format!("http://{address}")
}

#[sqlx::test(migrations = false)]
async fn a_round_ends_within_its_lease_and_hands_back_what_it_did_not_reach(pool: PgPool) {
    service_kit::db::migrate(&pool, &sqlx::migrate::Migrator::DEFAULT)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    for _ in 0..10 {
        let message = SeatingSoldOut {
            event_id: Uuid::now_v7(),
        };
        outbox::enqueue(&mut conn, "seating-service", &message)
            .await
            .unwrap();
    }
    drop(conn);
    let policy = RelayPolicy {
        batch: 10,
        request_timeout: Duration::from_millis(300),
        ..RelayPolicy::default()
    };
    let relay = Relay::new(
        pool.clone(),
        None,
        HashMap::from([(Service::Catalog, silent_subscriber().await)]),
        OutboxMetrics::register(&Metrics::new("relay-test")),
        policy,
    );

    let started = Instant::now();
    assert_eq!(relay.deliver_batch().await.unwrap(), 10, "all ten claimed");
    let took = started.elapsed();

    // The lease is max(3 × 300 ms, 1 s) = 1 s; no call starts later than 700 ms into it.
    assert!(
        took < Duration::from_secs(1),
        "the round outlived its lease: {took:?}"
    );
    let (attempted, handed_back): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE attempts = 1),
                count(*) FILTER (WHERE attempts = 0 AND next_attempt_at <= now())
         FROM outbox_deliveries",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!((1..10).contains(&attempted), "{attempted} attempted");
    assert_eq!(
        attempted + handed_back,
        10,
        "every delivery not attempted is due again at once"
    );
}
