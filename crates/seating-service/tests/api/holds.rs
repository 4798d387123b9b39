use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_problem};

#[sqlx::test(migrations = false)]
async fn a_reserve_holds_every_seat_for_the_default_ttl(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(10).await;
    let holder = Uuid::now_v7();
    let response = app.reserve(event, &seats[..3], holder, None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let hold: Value = response.json().await.unwrap();
    assert_eq!(hold["status"], "ACTIVE");
    assert_eq!(hold["holderId"], holder.to_string());
    assert_eq!(hold["currency"], "EUR");
    assert_eq!(hold["seats"].as_array().unwrap().len(), 3);
    assert_eq!(hold["seats"][0]["price"], "50.00");
    let expires: chrono::DateTime<chrono::Utc> =
        hold["expiresAt"].as_str().unwrap().parse().unwrap();
    let ttl = expires - chrono::Utc::now();
    assert!(
        ttl > chrono::Duration::seconds(890) && ttl <= chrono::Duration::seconds(900),
        "{ttl}"
    );

    let statuses = app.seat_statuses(event).await;
    assert_eq!(statuses.values().filter(|s| *s == "HELD").count(), 3);
}

#[sqlx::test(migrations = false)]
async fn a_reserve_is_all_or_nothing_and_names_the_conflicts(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(10).await;
    app.held(event, &seats[1..3], None).await;
    let response = app.reserve(event, &seats[0..4], Uuid::now_v7(), None).await;
    let body = assert_problem(response, StatusCode::CONFLICT).await;
    let mut conflicts: Vec<String> = serde_json::from_value(body["conflicts"].clone()).unwrap();
    conflicts.sort();
    let mut expected: Vec<String> = seats[1..3].iter().map(Uuid::to_string).collect();
    expected.sort();
    assert_eq!(conflicts, expected);
    // Nothing was held: seats 0 and 3 are still free.
    let statuses = app.seat_statuses(event).await;
    assert_eq!(statuses[&seats[0]], "AVAILABLE");
    assert_eq!(statuses[&seats[3]], "AVAILABLE");
}

#[sqlx::test(migrations = false)]
async fn an_expired_hold_stops_blocking_at_once_and_cannot_be_allocated(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(4).await;
    let old = app.held(event, &seats[..2], Some(1)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // No sweeper has run: the expiry alone frees the seats.
    assert_eq!(app.seat_statuses(event).await[&seats[0]], "AVAILABLE");
    let new = app.reserve(event, &seats[..2], Uuid::now_v7(), None).await;
    assert_eq!(new.status(), StatusCode::CREATED);

    let refused = app.allocate(old, Uuid::now_v7()).await;
    let body = assert_problem(refused, StatusCode::CONFLICT).await;
    assert!(body["detail"].as_str().unwrap().contains("expired"));
    let old_hold: Value = app
        .get(&format!("/v1/holds/{old}"), Some(&app.service_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(old_hold["status"], "EXPIRED");
}

#[sqlx::test(migrations = false)]
async fn the_sweeper_marks_expired_holds_and_counts_them(pool: PgPool) {
    let app = TestApp::spawn(pool.clone()).await;
    let (event, seats) = app.event_with_seats(4).await;
    let hold = app.held(event, &seats[..2], Some(1)).await;
    app.held(event, &seats[2..], None).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let metrics = seating_service::state::SeatingMetrics::register(
        &service_kit::metrics::Metrics::new("test"),
    );
    let expired = seating_service::sweeper::sweep_once(&pool, &metrics)
        .await
        .unwrap();
    assert_eq!(expired, 1);
    assert_eq!(metrics.expirations.get(), 1);
    assert_eq!(metrics.holds_active.get(), 1);
    let status: String = sqlx::query_scalar("SELECT status FROM holds WHERE id = $1")
        .bind(hold)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "EXPIRED");
    let pointing: i64 = sqlx::query_scalar("SELECT count(*) FROM seats WHERE hold_id = $1")
        .bind(hold)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(pointing, 0);
}

#[sqlx::test(migrations = false)]
async fn the_same_idempotency_key_returns_the_same_hold(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(4).await;
    let body = json!({"eventId": event, "seatIds": [seats[0]], "holderId": Uuid::now_v7()});
    let send = |body: Value| {
        app.http
            .post(app.url("/v1/seats/reserve"))
            .bearer_auth(&app.service_token)
            .header("idempotency-key", "checkout-42")
            .json(&body)
            .send()
    };
    let first = send(body.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = send(body.clone()).await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["holdId"], again["holdId"]);

    let mut other = body;
    other["seatIds"] = json!([seats[1]]);
    let reused = send(other).await.unwrap();
    assert_problem(reused, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[sqlx::test(migrations = false)]
async fn release_frees_the_seats_and_is_idempotent(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(4).await;
    let (token, buyer) = app.buyer().await;
    let response = app
        .reserve_as(&token, event, &seats[..2], buyer, None)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let hold: Value = response.json().await.unwrap();
    let hold_id: Uuid = hold["holdId"].as_str().unwrap().parse().unwrap();
    for _ in 0..2 {
        let released = app.release(hold_id, &token).await;
        assert_eq!(released.status(), StatusCode::OK);
        let body: Value = released.json().await.unwrap();
        assert_eq!(body["status"], "RELEASED");
    }
    assert_eq!(app.seat_statuses(event).await[&seats[0]], "AVAILABLE");
    let again = app.reserve(event, &seats[..2], Uuid::now_v7(), None).await;
    assert_eq!(again.status(), StatusCode::CREATED);
}

#[sqlx::test(migrations = false)]
async fn allocate_sells_the_seats_and_is_idempotent_for_one_order(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(4).await;
    let hold = app.held(event, &seats[..2], None).await;
    let order = Uuid::now_v7();
    for _ in 0..2 {
        let response = app.allocate(hold, order).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ALLOCATED");
        assert_eq!(body["orderId"], order.to_string());
    }
    assert_eq!(app.seat_statuses(event).await[&seats[1]], "SOLD");
    assert_problem(
        app.allocate(hold, Uuid::now_v7()).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_problem(
        app.release(hold, &app.service_token).await,
        StatusCode::CONFLICT,
    )
    .await;
    // Sold seats cannot be held.
    let taken = app.reserve(event, &seats[..1], Uuid::now_v7(), None).await;
    assert_problem(taken, StatusCode::CONFLICT).await;
}

#[sqlx::test(migrations = false)]
async fn a_released_hold_cannot_be_allocated(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(2).await;
    let hold = app.held(event, &seats, None).await;
    app.release(hold, &app.service_token).await;
    let body = assert_problem(
        app.allocate(hold, Uuid::now_v7()).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("released"));
}

#[sqlx::test(migrations = false)]
async fn return_makes_sold_seats_available_and_is_idempotent(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(4).await;
    let hold = app.held(event, &seats[..2], None).await;
    let order = Uuid::now_v7();
    app.allocate(hold, order).await;

    let first: Value = app
        .return_seats(event, &seats[..2], order)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(first["returned"].as_array().unwrap().len(), 2);
    let again: Value = app
        .return_seats(event, &seats[..2], order)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["returned"].as_array().unwrap().len(), 0);
    assert_eq!(app.seat_statuses(event).await[&seats[0]], "AVAILABLE");
    // Another order's seats are not returned by this one.
    let hold = app.held(event, &seats[2..], None).await;
    app.allocate(hold, Uuid::now_v7()).await;
    let wrong: Value = app
        .return_seats(event, &seats[2..], order)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["returned"].as_array().unwrap().len(), 0);
    assert_eq!(app.seat_statuses(event).await[&seats[3]], "SOLD");
}

#[sqlx::test(migrations = false)]
async fn a_buyer_sees_and_releases_only_their_own_holds(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(4).await;
    let (alice, alice_id) = app.buyer().await;
    let (bob, bob_id) = app.buyer().await;
    let response = app
        .reserve_as(&alice, event, &seats[..1], alice_id, None)
        .await;
    let hold: Value = response.json().await.unwrap();
    let hold_id: Uuid = hold["holdId"].as_str().unwrap().parse().unwrap();

    assert_eq!(
        app.get(&format!("/v1/holds/{hold_id}"), Some(&alice))
            .await
            .status(),
        StatusCode::OK
    );
    assert_problem(
        app.get(&format!("/v1/holds/{hold_id}"), Some(&bob)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(app.release(hold_id, &bob).await, StatusCode::NOT_FOUND).await;
    // Bob cannot hold seats in Alice's name, nor allocate.
    let forged = app
        .reserve_as(&bob, event, &seats[1..2], alice_id, None)
        .await;
    assert_problem(forged, StatusCode::FORBIDDEN).await;
    let own = app
        .reserve_as(&bob, event, &seats[1..2], bob_id, None)
        .await;
    assert_eq!(own.status(), StatusCode::CREATED);
    let allocate = app
        .post(
            "/v1/seats/allocate",
            &json!({"holdId": hold_id, "orderId": Uuid::now_v7()}),
            &bob,
        )
        .await;
    assert_problem(allocate, StatusCode::FORBIDDEN).await;
}

#[sqlx::test(migrations = false)]
async fn bad_reserve_requests_get_clear_problems(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(12).await;
    let holder = Uuid::now_v7();

    let unknown_event = app.reserve(Uuid::now_v7(), &seats[..1], holder, None).await;
    assert_problem(unknown_event, StatusCode::NOT_FOUND).await;

    let too_many = app.reserve(event, &seats[..11], holder, None).await;
    let body = assert_problem(too_many, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"][0]["field"], "seatIds");
    let twice = app
        .reserve(event, &[seats[0], seats[0]], holder, None)
        .await;
    assert_problem(twice, StatusCode::UNPROCESSABLE_ENTITY).await;
    let none = app.reserve(event, &[], holder, None).await;
    assert_problem(none, StatusCode::UNPROCESSABLE_ENTITY).await;
    let foreign = app.reserve(event, &[Uuid::now_v7()], holder, None).await;
    let body = assert_problem(foreign, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not seats of this event")
    );
    let bad_ttl = app.reserve(event, &seats[..1], holder, Some(0)).await;
    assert_problem(bad_ttl, StatusCode::UNPROCESSABLE_ENTITY).await;

    let not_a_uuid = app
        .post(
            "/v1/seats/reserve",
            &json!({"eventId": event, "seatIds": ["A1"], "holderId": holder}),
            &app.service_token,
        )
        .await;
    assert_problem(not_a_uuid, StatusCode::UNPROCESSABLE_ENTITY).await;
    let malformed = app
        .http
        .post(app.url("/v1/seats/reserve"))
        .bearer_auth(&app.service_token)
        .header("content-type", "application/json")
        .body("{\"eventId\": ")
        .send()
        .await
        .unwrap();
    assert_problem(malformed, StatusCode::BAD_REQUEST).await;
    assert_problem(
        app.get("/v1/holds/not-a-uuid", Some(&app.service_token))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let anonymous = app
        .http
        .post(app.url("/v1/seats/reserve"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
}

#[sqlx::test(migrations = false)]
async fn reservation_metrics_count_outcomes(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(2).await;
    app.held(event, &seats, None).await;
    app.reserve(event, &seats, Uuid::now_v7(), None).await;
    let text = app.metrics().await;
    assert!(
        text.contains(r#"seat_reservations_total{result="created"} 1"#),
        "{text}"
    );
    assert!(text.contains(r#"seat_reservations_total{result="failed"} 1"#));
    assert!(text.contains(r#"seat_reservations_failed_total{reason="conflict"} 1"#));
    assert!(text.contains("seat_holds_active"));
    assert!(text.contains("outbox_pending"));
}

/// A buyer cannot keep seats longer than the shop's default TTL (a service may, up to an hour);
/// and one holder's reserves are rate limited: 429 with Retry-After past the burst.
#[sqlx::test(migrations = false)]
async fn a_buyer_gets_no_longer_ttl_than_the_default_and_bursts_are_rate_limited(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("HOLDS_PER_USER_PER_MINUTE", "6"),
            ("HOLDS_PER_USER_BURST", "3"),
        ],
    )
    .await;
    let (event, seats) = app.event_with_seats(8).await;
    let (token, buyer) = app.buyer().await;
    let hour = app
        .reserve_as(&token, event, &seats[..1], buyer, Some(3600))
        .await;
    let body = assert_problem(hour, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"][0]["field"], "ttlSeconds");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("900")
    );
    let default = app
        .reserve_as(&token, event, &seats[..1], buyer, Some(900))
        .await;
    assert_eq!(default.status(), StatusCode::CREATED);
    let service = app
        .reserve(event, &seats[1..2], Uuid::now_v7(), Some(3600))
        .await;
    assert_eq!(service.status(), StatusCode::CREATED);

    // The burst of 3: the hold above (a refused request body does not count) and two more.
    for seat in &seats[2..4] {
        let held = app
            .reserve_as(&token, event, std::slice::from_ref(seat), buyer, None)
            .await;
        assert_eq!(held.status(), StatusCode::CREATED);
    }
    let fourth = app
        .reserve_as(&token, event, &seats[6..7], buyer, None)
        .await;
    assert_eq!(fourth.headers()["retry-after"], "10");
    assert_problem(fourth, StatusCode::TOO_MANY_REQUESTS).await;
    // order-service holding for that buyer counts against the same buyer.
    let for_buyer = app.reserve(event, &seats[4..5], buyer, None).await;
    assert_problem(for_buyer, StatusCode::TOO_MANY_REQUESTS).await;
    // Another buyer is not affected.
    let (other_token, other) = app.buyer().await;
    let other_hold = app
        .reserve_as(&other_token, event, &seats[5..6], other, None)
        .await;
    assert_eq!(other_hold.status(), StatusCode::CREATED);
}

#[sqlx::test(migrations = false)]
async fn two_sweepers_at_once_expire_each_hold_once(pool: PgPool) {
    // Two replicas' sweepers, each in its own round, over more holds than one batch (500).
    let app = TestApp::spawn(pool.clone()).await;
    let (event, seats) = app.event_with_seats(600).await;
    for chunk in seats.chunks(100) {
        let holds = chunk
            .iter()
            .map(|seat| app.held(event, std::slice::from_ref(seat), Some(1)));
        futures::future::join_all(holds).await;
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let metrics = || {
        seating_service::state::SeatingMetrics::register(&service_kit::metrics::Metrics::new(
            "test",
        ))
    };
    let (one, two) = (metrics(), metrics());
    let (a, b) = tokio::join!(
        seating_service::sweeper::sweep_once(&pool, &one),
        seating_service::sweeper::sweep_once(&pool, &two),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a + b,
        600,
        "each hold expired by exactly one sweeper ({a} + {b})"
    );
    assert_eq!(one.expirations.get() + two.expirations.get(), 600);
    let (expired, pointing): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM holds WHERE status = 'EXPIRED'),
                (SELECT count(*) FROM seats WHERE hold_id IS NOT NULL)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((expired, pointing), (600, 0));
}

#[sqlx::test(migrations = false)]
async fn the_openapi_document_passes_the_kits_audit(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = test_support::assert_openapi_truthful(&app.address).await;
    let reserve = &doc["paths"]["/v1/seats/reserve"]["post"];
    assert_eq!(
        reserve["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ReserveRequest"
    );
    let rules = &doc["components"]["schemas"]["ReserveRequest"]["properties"]["seatIds"];
    assert_eq!(rules["maxItems"], 10, "{rules}");
}
