//! The invariant under fire: many clients at once, then the database is checked directly.

use std::collections::HashMap;
use std::time::Duration;

use rand::seq::SliceRandom;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp};

/// No seat may point at more than one hold, and every ACTIVE unexpired hold must own all of
/// its seats; no seat sold to an order whose hold is not ALLOCATED.
async fn assert_invariant(pool: &PgPool) {
    let double_held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (
            SELECT hs.seat_id FROM hold_seats hs JOIN holds h ON h.id = hs.hold_id
            WHERE h.status = 'ACTIVE' AND h.expires_at > now()
            GROUP BY hs.seat_id HAVING count(*) > 1) twice",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(double_held, 0, "a seat is in two active holds");
    let orphaned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM hold_seats hs JOIN holds h ON h.id = hs.hold_id
         JOIN seats s ON s.id = hs.seat_id
         WHERE h.status = 'ACTIVE' AND h.expires_at > now() AND s.hold_id IS DISTINCT FROM h.id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(orphaned, 0, "an active hold does not own one of its seats");
    let wrongly_sold: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM seats s
         WHERE s.sold_order_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM holds h JOIN hold_seats hs ON hs.hold_id = h.id
            WHERE hs.seat_id = s.id AND h.status = 'ALLOCATED' AND h.order_id = s.sold_order_id)",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(wrongly_sold, 0, "a seat is sold without an allocated hold");
}

#[sqlx::test(migrations = false)]
async fn two_hundred_concurrent_reserves_never_double_hold_a_seat(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(40).await;
    let hot = &seats[..30];
    let attempts = (0..200).map(|_| {
        let mut rng = rand::thread_rng();
        let k = [1, 2, 3, 4][usize::from(rand::random::<u8>() % 4)];
        let wanted: Vec<Uuid> = hot.choose_multiple(&mut rng, k).copied().collect();
        let app = &app;
        async move {
            let response = app.reserve(event, &wanted, Uuid::now_v7(), None).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, wanted, body)
        }
    });
    let outcomes = futures::future::join_all(attempts).await;

    let mut owner: HashMap<Uuid, Uuid> = HashMap::new();
    let mut created = 0;
    for (status, wanted, body) in &outcomes {
        match *status {
            StatusCode::CREATED => {
                created += 1;
                let hold: Uuid = body["holdId"].as_str().unwrap().parse().unwrap();
                let held: Vec<Uuid> = body["seats"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["seatId"].as_str().unwrap().parse().unwrap())
                    .collect();
                let mut sorted = wanted.clone();
                sorted.sort();
                let mut held_sorted = held.clone();
                held_sorted.sort();
                assert_eq!(held_sorted, sorted, "a hold got other seats than asked");
                for seat in held {
                    assert!(
                        owner.insert(seat, hold).is_none(),
                        "seat {seat} answered 201 twice"
                    );
                }
            }
            StatusCode::CONFLICT => assert!(!body["conflicts"].as_array().unwrap().is_empty()),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(created >= 5, "only {created} holds were created");
    // Every 201's seats belong to that hold, in the database.
    for (seat, hold) in &owner {
        let pointed: Option<Uuid> = sqlx::query_scalar("SELECT hold_id FROM seats WHERE id = $1")
            .bind(seat)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(pointed, Some(*hold));
    }
    assert_invariant(&app.pool).await;
}

#[sqlx::test(migrations = false)]
async fn allocate_racing_release_and_expiry_sells_each_seat_at_most_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(60).await;
    // 30 holds of 2 seats, 1-second TTL.
    let mut holds = Vec::new();
    for pair in seats.chunks(2) {
        holds.push((app.held(event, pair, Some(1)).await, pair.to_vec()));
    }
    // For each hold at once: an allocation, a release, and (after expiry) a competing reserve.
    let races = holds.iter().enumerate().map(|(i, (hold, pair))| {
        let app = &app;
        async move {
            // Spread the allocations across the expiry instant.
            tokio::time::sleep(Duration::from_millis(30 * (i as u64 % 40))).await;
            let order = Uuid::now_v7();
            let (allocated, released, stolen) = tokio::join!(
                app.allocate(*hold, order),
                async {
                    if i % 3 == 0 {
                        Some(app.release(*hold, &app.service_token).await.status())
                    } else {
                        None
                    }
                },
                async {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    app.reserve(event, pair, Uuid::now_v7(), None)
                        .await
                        .status()
                }
            );
            (allocated.status(), released, stolen)
        }
    });
    let outcomes = futures::future::join_all(races).await;
    for (allocated, released, stolen) in &outcomes {
        assert!(
            matches!(*allocated, StatusCode::OK | StatusCode::CONFLICT),
            "{allocated}"
        );
        if let Some(released) = released {
            assert!(
                matches!(*released, StatusCode::OK | StatusCode::CONFLICT),
                "{released}"
            );
        }
        assert!(
            matches!(*stolen, StatusCode::CREATED | StatusCode::CONFLICT),
            "{stolen}"
        );
        // A seat that was sold cannot also be held by the thief.
        assert!(
            !(*allocated == StatusCode::OK && *stolen == StatusCode::CREATED),
            "sold and held again"
        );
    }
    let sold: i64 =
        sqlx::query_scalar("SELECT count(*) FROM seats WHERE sold_order_id IS NOT NULL")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let allocated = outcomes.iter().filter(|o| o.0 == StatusCode::OK).count();
    assert_eq!(sold, i64::try_from(allocated * 2).unwrap());
    assert_invariant(&app.pool).await;
    // Sold out is read from the seats themselves (the sweeper), so it cannot drift.
    seating_service::sweeper::announce_sold_out(&app.pool)
        .await
        .unwrap();
    let sold_out: bool = sqlx::query_scalar("SELECT sold_out FROM events WHERE id = $1")
        .bind(event)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sold_out, sold == 60);
}

#[sqlx::test(migrations = false)]
async fn reserves_racing_a_cancellation_leave_no_active_hold(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(60).await;
    let cancel = serde_json::json!({
        "id": Uuid::now_v7(),
        "type": "event.cancelled",
        "occurredAt": "2026-11-25T12:00:00Z",
        "source": "catalog-service",
        "data": {"eventId": event, "reason": "race"},
    });
    let reserves = seats.iter().map(|seat| {
        let app = &app;
        async move {
            app.reserve(event, &[*seat], Uuid::now_v7(), None)
                .await
                .status()
        }
    });
    let cancelling = async {
        tokio::time::sleep(Duration::from_millis(5)).await;
        app.post("/v1/messages", &cancel, &app.catalog_token)
            .await
            .status()
    };
    let (statuses, cancelled) = tokio::join!(futures::future::join_all(reserves), cancelling);
    assert_eq!(cancelled, StatusCode::ACCEPTED);
    assert!(
        statuses
            .iter()
            .all(|s| matches!(*s, StatusCode::CREATED | StatusCode::CONFLICT)),
        "{statuses:?}"
    );
    let active: i64 =
        sqlx::query_scalar("SELECT count(*) FROM holds WHERE event_id = $1 AND status = 'ACTIVE'")
            .bind(event)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(active, 0, "a hold survived the cancellation");
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM seats WHERE event_id = $1 AND hold_id IS NOT NULL",
    )
    .bind(event)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(held, 0);
}

/// One holder firing many reserves at once cannot hold more than MAX_HELD_SEATS_PER_HOLDER
/// seats of an event: the limit is counted under a lock per holder and event, so no burst
/// slips past it. (The rate limit is off here, to let the burst reach the database.)
#[sqlx::test(migrations = false)]
async fn a_burst_of_reserves_by_one_holder_never_passes_the_held_seat_limit(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("MAX_HELD_SEATS_PER_HOLDER", "10"),
            ("HOLDS_PER_USER_PER_MINUTE", "0"),
        ],
    )
    .await;
    let (event, seats) = app.event_with_seats(60).await;
    let (token, bot) = app.buyer().await;
    // 30 reserves of two seats each, all at once.
    let attempts = seats.chunks(2).map(|pair| {
        let (app, token) = (&app, &token);
        async move {
            let response = app.reserve_as(token, event, pair, bot, None).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    });
    let outcomes = futures::future::join_all(attempts).await;
    let held = outcomes
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(held, 5, "5 holds of 2 seats reach the limit of 10");
    for (status, body) in outcomes.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT);
        assert!(
            body["type"]
                .as_str()
                .unwrap()
                .ends_with("hold-limit-reached"),
            "{body}"
        );
        assert_eq!(body["limit"], 10);
    }
    let in_db: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM seats s JOIN holds h ON h.id = s.hold_id
         WHERE h.holder_id = $1 AND s.held_until > now()",
    )
    .bind(bot)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(in_db, 10);
    assert_invariant(&app.pool).await;

    // Another event is another count; and a released hold frees its part of the limit.
    let (other, other_seats) = app.event_with_seats(2).await;
    let elsewhere = app.reserve_as(&token, other, &other_seats, bot, None).await;
    assert_eq!(elsewhere.status(), StatusCode::CREATED);
    let first = outcomes
        .iter()
        .find(|(s, _)| *s == StatusCode::CREATED)
        .unwrap();
    let hold = first.1["holdId"].as_str().unwrap();
    let released = app
        .post(
            "/v1/seats/release",
            &serde_json::json!({"holdId": hold}),
            &token,
        )
        .await;
    assert_eq!(released.status(), StatusCode::OK);
    let free: Vec<Uuid> = outcomes
        .iter()
        .filter(|(s, _)| *s != StatusCode::CREATED)
        .flat_map(|(_, body)| body.get("conflicts").into_iter())
        .flat_map(|c| c.as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().and_then(|s| s.parse().ok()))
        .collect();
    assert!(free.is_empty(), "a refusal for the limit names no seat");
    let again = app
        .reserve_as(&token, event, &seats[58..60], bot, None)
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);
}
