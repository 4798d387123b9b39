//! Messages both ways: `event.cancelled` in, `seating.sold_out` / `seating.available` out, and
//! the outbox relay's delivery guarantees.

use std::collections::HashSet;

use serde_json::{Value, json};
use service_kit::messages::outbox;
use service_kit::messages::payloads::{SeatingAvailable, SeatingSoldOut};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_problem};

fn cancelled(event: Uuid, id: Uuid) -> Value {
    json!({
        "id": id,
        "type": "event.cancelled",
        "occurredAt": "2026-11-25T12:00:00Z",
        "source": "catalog-service",
        "data": {"eventId": event, "reason": "storm"},
    })
}

#[sqlx::test(migrations = false)]
async fn event_cancelled_refuses_new_holds_and_releases_active_ones(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(4).await;
    let hold = app.held(event, &seats[..2], None).await;

    let response = app
        .post(
            "/v1/messages",
            &cancelled(event, Uuid::now_v7()),
            &app.catalog_token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let refused = app.reserve(event, &seats[2..], Uuid::now_v7(), None).await;
    let body = assert_problem(refused, StatusCode::CONFLICT).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("/event-not-on-sale")
    );
    let view: Value = app
        .get(&format!("/v1/holds/{hold}"), Some(&app.service_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["status"], "RELEASED");
    assert_problem(
        app.allocate(hold, Uuid::now_v7()).await,
        StatusCode::CONFLICT,
    )
    .await;
    let map: Value = app
        .get(&format!("/v1/events/{event}/seatmap"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(map["status"], "CANCELLED");
    // A late inventory cannot put it back on sale.
    let late = app
        .put_inventory(
            event,
            &crate::helpers::inventory(&seats, "50.00"),
            &app.catalog_token,
        )
        .await;
    assert_problem(late, StatusCode::CONFLICT).await;
}

#[sqlx::test(migrations = false)]
async fn a_repeated_message_id_is_accepted_and_ignored(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, _) = app.event_with_seats(1).await;
    let id = Uuid::now_v7();
    for _ in 0..3 {
        let response = app
            .post("/v1/messages", &cancelled(event, id), &app.catalog_token)
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE message_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 1);
}

#[sqlx::test(migrations = false)]
async fn only_the_producer_of_a_message_may_post_it(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (buyer, _) = app.buyer().await;
    let (event, _) = app.event_with_seats(1).await;
    let from_catalog = cancelled(event, Uuid::now_v7());
    let mut claiming_another_source = from_catalog.clone();
    claiming_another_source["source"] = json!("order-service");
    let refusals = [
        // A user is no service.
        (&buyer, &from_catalog),
        // order-service's token cannot speak for catalog-service...
        (&app.service_token, &from_catalog),
        // ...nor can catalog's token send as another service,
        (&app.catalog_token, &claiming_another_source),
    ];
    for (token, message) in refusals {
        let response = app.post("/v1/messages", message, token).await;
        assert_problem(response, StatusCode::FORBIDDEN).await;
    }
    // ...nor a type it does not produce.
    let mut invented = cancelled(event, Uuid::now_v7());
    invented["type"] = json!("seating.sold_out");
    let response = app
        .post("/v1/messages", &invented, &app.catalog_token)
        .await;
    assert_problem(response, StatusCode::FORBIDDEN).await;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(events, 0, "no refused message was recorded");

    let response = app
        .post("/v1/messages", &from_catalog, &app.catalog_token)
        .await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

#[sqlx::test(migrations = false)]
async fn the_last_sale_announces_sold_out_and_a_return_announces_available(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(3).await;
    let first = app.held(event, &seats[..2], None).await;
    let last = app.held(event, &seats[2..], None).await;
    app.allocate(first, Uuid::now_v7()).await;
    app.deliver().await;
    assert!(app.catalog.types().is_empty(), "not sold out yet");

    let order = Uuid::now_v7();
    app.allocate(last, order).await;
    app.deliver().await;
    assert_eq!(app.catalog.types(), ["seating.sold_out"]);
    let map: Value = app
        .get(&format!("/v1/events/{event}/seatmap"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(map["status"], "SOLD_OUT");

    app.return_seats(event, &seats[2..], order).await;
    app.deliver().await;
    assert_eq!(
        app.catalog.types(),
        ["seating.sold_out", "seating.available"]
    );
    let message = app.catalog.received.lock().unwrap()[1].clone();
    assert_eq!(message["data"]["eventId"], event.to_string());
    assert_eq!(message["source"], "seating-service");
}

#[sqlx::test(migrations = false)]
async fn delivery_is_retried_while_the_consumer_is_down(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("OUTBOX_FIRST_BACKOFF_MS", "1")]).await;
    let (event, seats) = app.event_with_seats(1).await;
    let hold = app.held(event, &seats, None).await;
    app.catalog.fail(true);
    app.allocate(hold, Uuid::now_v7()).await;

    app.deliver().await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.deliver().await;
    assert!(app.catalog.types().is_empty());
    let (attempts, error): (i32, String) =
        sqlx::query_as("SELECT attempts, last_error FROM outbox_deliveries")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // The helper keeps delivering while anything is due, so with a 1 ms back-off it tries a few
    // times: at least twice, each failure counted.
    assert!(attempts >= 2, "{attempts}");
    assert!(error.contains("503"), "{error}");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(&format!("outbox_delivery_failures_total {attempts}")),
        "{metrics}"
    );
    assert!(metrics.contains("outbox_pending 1"), "{metrics}");

    app.catalog.fail(false);
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.deliver().await;
    assert_eq!(app.catalog.types(), ["seating.sold_out"]);
    app.deliver().await;
    assert_eq!(app.catalog.types().len(), 1, "delivered once");
}

#[sqlx::test(migrations = false)]
async fn a_message_that_always_fails_ends_dead_counted_and_can_be_requeued(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("OUTBOX_DEAD_AFTER_SECONDS", "0")]).await;
    let (event, seats) = app.event_with_seats(1).await;
    let hold = app.held(event, &seats, None).await;
    app.catalog.fail(true);
    app.allocate(hold, Uuid::now_v7()).await;
    app.deliver().await;

    let dead: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT dead_at FROM outbox_deliveries")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(dead.is_some());
    assert!(app.metrics().await.contains("outbox_dead_total 1"));
    assert_eq!(
        app.deliver().await,
        0,
        "a dead message is not retried by itself"
    );

    app.catalog.fail(false);
    assert_eq!(outbox::requeue_dead(&app.pool, None).await.unwrap(), 1);
    app.deliver().await;
    assert_eq!(app.catalog.types(), ["seating.sold_out"]);
}

#[sqlx::test(migrations = false)]
async fn two_relays_deliver_each_message_once_in_order_per_aggregate(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    // 10 aggregates (events), 6 messages each; the ids written per aggregate, in order.
    let events: Vec<Uuid> = (0..10).map(|_| Uuid::now_v7()).collect();
    let mut written: Vec<Vec<String>> = vec![Vec::new(); events.len()];
    let mut conn = app.pool.acquire().await.unwrap();
    for round in 0..6 {
        for (aggregate, &event_id) in events.iter().enumerate() {
            let id = if round % 2 == 0 {
                outbox::enqueue(&mut conn, "seating-service", &SeatingSoldOut { event_id }).await
            } else {
                outbox::enqueue(&mut conn, "seating-service", &SeatingAvailable { event_id }).await
            };
            written[aggregate].push(id.unwrap().to_string());
        }
    }
    drop(conn);
    let second = app.second_relay();
    // Run both until neither finds work twice in a row (the other may hold rows briefly).
    for _ in 0..5 {
        tokio::join!(drain(&app.relay), drain(&second));
    }
    let received = app.catalog.received.lock().unwrap().clone();
    let ids: HashSet<&str> = received.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(received.len(), 60, "every message delivered");
    assert_eq!(ids.len(), 60, "none delivered twice");
    for (aggregate, &event_id) in events.iter().enumerate() {
        let arrived: Vec<String> = received
            .iter()
            .filter(|m| m["data"]["eventId"] == event_id.to_string())
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            arrived, written[aggregate],
            "aggregate {aggregate} out of order"
        );
    }
}

async fn drain(relay: &service_kit::messages::outbox::Relay) {
    while relay.deliver_batch().await.unwrap() > 0 {}
}
