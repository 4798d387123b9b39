//! Publishing holds no transaction while seating gets the seats: it records a publication, sends
//! the seats with no lock held (the last request opens the event in seating), then puts the
//! event on sale. Seating stands behind a proxy that can slow, hold back or fail its requests.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem};

/// A draft with `rows` × `per_row` seats in section Stalls; (organizer's token, event).
async fn draft_with_seats(app: &TestApp, rows: u32, per_row: u32) -> (String, Uuid) {
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app.draft(&organizer, venue, "Jazz", "concert", 3).await;
    assert_eq!(
        app.put_layout(&organizer, event, rows, per_row)
            .await
            .status(),
        StatusCode::OK
    );
    (organizer, event)
}

fn problem_type(body: &Value) -> &str {
    body["type"].as_str().unwrap().rsplit('/').next().unwrap()
}

#[sqlx::test(migrations = false)]
async fn twenty_slow_publishes_at_once_all_succeed_on_a_pool_of_five_connections(pool: PgPool) {
    let app = TestApp::spawn_with_pool_size(pool, 5).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let mut events = Vec::new();
    for i in 0..20 {
        let event = app
            .draft(&organizer, venue, &format!("Show {i}"), "concert", 3)
            .await;
        app.put_layout(&organizer, event, 1, 4).await;
        events.push(event);
    }
    // Each publish waits half a second for seating. Were a connection held meanwhile, 20 of
    // them would queue for 5 connections longer than the pool's one-second wait.
    app.proxy.delay_inventories(Duration::from_millis(500));
    let answers =
        futures::future::join_all(events.iter().map(|e| app.publish(&organizer, *e))).await;
    for answer in answers {
        assert_eq!(
            answer.status(),
            StatusCode::OK,
            "{}",
            answer.text().await.unwrap()
        );
    }
    for event in events {
        assert_eq!(app.event(event, None).await["status"], "ON_SALE");
        assert_eq!(app.seating_seats(event).await.unwrap().len(), 4);
    }
}

#[sqlx::test(migrations = false)]
async fn a_publish_that_fails_half_way_leaves_a_draft_nothing_can_be_held_of_and_a_retry_completes(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    // 5 200 seats: two requests to seating, the second opens the event.
    let (organizer, event) = draft_with_seats(&app, 2, 2600).await;
    app.proxy.fail_opening(true);
    let failed = app.publish(&organizer, event).await;
    assert!(failed.headers().contains_key("retry-after"));
    assert_problem(failed, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(app.event(event, Some(&organizer)).await["status"], "DRAFT");
    // Seating has the first request's seats, but the event is not open there.
    let seats = app.seat_ids(event, Some(&organizer)).await;
    let refused = assert_problem(
        app.seating_reserve(event, &seats[..1]).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem_type(&refused), "event-not-on-sale");
    assert_eq!(
        app.seating_seats(event).await.unwrap_err(),
        StatusCode::NOT_FOUND,
        "buyers do not see a draft's seats"
    );

    // The failed publication was forgotten: a retry starts at once and completes.
    app.proxy.fail_opening(false);
    let retried = app.publish(&organizer, event).await;
    assert_eq!(retried.status(), StatusCode::OK);
    assert_eq!(app.event(event, None).await["status"], "ON_SALE");
    assert_eq!(app.seating_seats(event).await.unwrap().len(), 5200);
    assert_eq!(
        app.seating_reserve(event, &seats[..1]).await.status(),
        StatusCode::CREATED
    );
}

#[sqlx::test(migrations = false)]
async fn seats_removed_from_the_draft_after_a_failed_publish_are_gone_from_seating_after_the_retry(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let (organizer, event) = draft_with_seats(&app, 2, 2600).await;
    app.proxy.fail_opening(true);
    assert_problem(
        app.publish(&organizer, event).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    // Row B went to seating in the first request (all of row A, then row B up to 2400).
    let row_b: Vec<Uuid> = app.seat_ids(event, Some(&organizer)).await[2600..5000].to_vec();
    let in_seating: i64 =
        sqlx::query_scalar("SELECT count(*) FROM seating.seats WHERE id = ANY($1)")
            .bind(&row_b)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(in_seating, 2400);

    // Row B is removed from the draft; row A keeps its seat ids.
    assert_eq!(
        app.put_layout(&organizer, event, 1, 2600).await.status(),
        StatusCode::OK
    );
    app.proxy.fail_opening(false);
    assert_eq!(
        app.publish(&organizer, event).await.status(),
        StatusCode::OK
    );
    let listed = app.seating_seats(event).await.unwrap();
    assert_eq!(listed.len(), 2600);
    assert!(listed.iter().all(|(_, row)| row == "A"), "row B is gone");
    let mut catalog = app.seat_ids(event, None).await;
    let mut seating: Vec<Uuid> = listed.into_iter().map(|(id, _)| id).collect();
    catalog.sort_unstable();
    seating.sort_unstable();
    assert_eq!(catalog, seating);
    assert_problem(
        app.seating_reserve(event, &row_b[..1]).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn seats_cannot_be_redefined_nor_the_event_published_again_while_a_publication_is_in_progress(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let (organizer, event) = draft_with_seats(&app, 1, 4).await;
    app.proxy.hold_inventories(true);
    let publishing = {
        let url = app.url(&format!("/v1/events/{event}/publish"));
        let request = app.http.post(url).bearer_auth(&organizer).json(&json!({}));
        tokio::spawn(request.send())
    };
    app.proxy.wait_for_inventories(1).await;

    let layout = json!({"layout": [{"section": "Stalls", "rows": 1, "seatsPerRow": 2}]});
    let refused = assert_problem(
        app.put_seats(&organizer, event, &layout).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem_type(&refused), "event-state");
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("being published")
    );
    assert_problem(app.publish(&organizer, event).await, StatusCode::CONFLICT).await;

    app.proxy.hold_inventories(false);
    let published = publishing.await.unwrap().unwrap();
    assert_eq!(published.status(), StatusCode::OK);
    assert_eq!(app.seating_seats(event).await.unwrap().len(), 4);
    // On sale now: the seats are fixed for good.
    assert_problem(
        app.put_seats(&organizer, event, &layout).await,
        StatusCode::CONFLICT,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn a_publication_whose_lease_ran_out_is_taken_over(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, event) = draft_with_seats(&app, 1, 4).await;
    // A publication whose process died a minute ago still holds the event...
    let abandoned = Uuid::now_v7();
    let started = |ago: &str| {
        format!(
            "UPDATE events SET publication_id = $2, publication_started_at = now() - interval '{ago}'
             WHERE id = $1"
        )
    };
    sqlx::query(&started("1 minute"))
        .bind(event)
        .bind(abandoned)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_problem(app.publish(&organizer, event).await, StatusCode::CONFLICT).await;
    // ... until its lease (2 minutes) runs out.
    sqlx::query(&started("3 minutes"))
        .bind(event)
        .bind(abandoned)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        app.publish(&organizer, event).await.status(),
        StatusCode::OK
    );
    let left: Option<Uuid> = sqlx::query_scalar("SELECT publication_id FROM events WHERE id = $1")
        .bind(event)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, None);
}

#[sqlx::test(migrations = false)]
async fn a_cancellation_during_a_publication_wins_and_seating_ends_up_cancelled(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, event) = draft_with_seats(&app, 1, 4).await;
    app.proxy.hold_inventories(true);
    let publishing = {
        let url = app.url(&format!("/v1/events/{event}/publish"));
        let request = app.http.post(url).bearer_auth(&organizer).json(&json!({}));
        tokio::spawn(request.send())
    };
    app.proxy.wait_for_inventories(1).await;
    // No lock is held by the publish: the cancellation does not wait for seating.
    let cancelled = app
        .post(
            &format!("/v1/events/{event}/cancel"),
            &json!({"reason": "storm"}),
            &organizer,
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);

    app.proxy.hold_inventories(false);
    let published = publishing.await.unwrap().unwrap();
    assert_problem(published, StatusCode::CONFLICT).await;
    assert_eq!(app.event(event, None).await["status"], "CANCELLED");
    app.deliver().await;
    let seats = app.seat_ids(event, None).await;
    let refused = assert_problem(
        app.seating_reserve(event, &seats[..1]).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(problem_type(&refused), "event-not-on-sale");
}
