//! Publications: catalog sends an event's seats in several requests naming one publication; the
//! event stays a draft here, where nothing can be held, until the last request opens it.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_problem, inventory};

/// A request of `publication`: `seats` in section A, rows of 10, like [`inventory`].
fn part_of(publication: Uuid, seats: &[Uuid], open: bool) -> Value {
    publish(inventory(seats, "50.00"), publication, open)
}

/// The request of `publication` that carries `range` of an inventory's seats.
fn part(whole: &Value, range: std::ops::Range<usize>, publication: Uuid, open: bool) -> Value {
    let mut body = whole.clone();
    body["seats"] = json!(whole["seats"].as_array().unwrap()[range]);
    publish(body, publication, open)
}

fn publish(mut body: Value, publication: Uuid, open: bool) -> Value {
    body["publicationId"] = json!(publication);
    body["open"] = json!(open);
    body
}

fn ids(n: usize) -> Vec<Uuid> {
    (0..n).map(|_| Uuid::now_v7()).collect()
}

#[sqlx::test(migrations = false)]
async fn a_published_event_is_a_draft_where_nothing_can_be_held_until_its_last_request_opens_it(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let event = Uuid::now_v7();
    let publication = Uuid::now_v7();
    let seats = ids(12);
    let whole = inventory(&seats, "50.00");
    let first = app
        .put_inventory(
            event,
            &part(&whole, 0..10, publication, false),
            &app.catalog_token,
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);

    let refused = assert_problem(
        app.reserve(event, &seats[..1], Uuid::now_v7(), None).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        refused["type"]
            .as_str()
            .unwrap()
            .ends_with("event-not-on-sale")
    );
    // Buyers do not see it yet.
    assert_problem(
        app.get(&format!("/v1/seats?eventId={event}"), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Not even by going around the API: the reserve's statement refuses a draft.
    let rows = seating_service::db::holds::reserve(
        &app.pool,
        Uuid::now_v7(),
        event,
        Uuid::now_v7(),
        &seats[..1],
        std::time::Duration::from_secs(60),
        10,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].outcome, "not_on_sale");

    let last = app
        .put_inventory(
            event,
            &part(&whole, 10..12, publication, true),
            &app.catalog_token,
        )
        .await;
    assert_eq!(last.status(), StatusCode::OK);
    let body: Value = last.json().await.unwrap();
    assert_eq!(body["seatCount"], 12);
    app.held(event, &seats[..1], None).await;
    assert_eq!(app.seat_statuses(event).await.len(), 12);
}

#[sqlx::test(migrations = false)]
async fn opening_removes_the_seats_an_earlier_failed_publication_left(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let event = Uuid::now_v7();
    let seats = ids(5);
    // A first publication sends five seats and fails before opening.
    app.put_inventory(
        event,
        &part_of(Uuid::now_v7(), &seats, false),
        &app.catalog_token,
    )
    .await;
    // The draft loses its last two seats; the next publication sends three and opens.
    let response = app
        .put_inventory(
            event,
            &part_of(Uuid::now_v7(), &seats[..3], true),
            &app.catalog_token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["seatCount"], 3);
    let listed = app.seat_statuses(event).await;
    assert_eq!(listed.len(), 3);
    assert!(seats[..3].iter().all(|s| listed.contains_key(s)));
    assert_problem(
        app.reserve(event, &seats[3..4], Uuid::now_v7(), None).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn a_place_defined_again_under_a_new_id_replaces_the_seat_an_earlier_publication_left(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let event = Uuid::now_v7();
    let old = ids(2);
    app.put_inventory(
        event,
        &part_of(Uuid::now_v7(), &old, false),
        &app.catalog_token,
    )
    .await;
    // The same two places (A-A-1 and A-A-2), the second under a new id.
    let new = [old[0], Uuid::now_v7()];
    let response = app
        .put_inventory(
            event,
            &part_of(Uuid::now_v7(), &new, true),
            &app.catalog_token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let listed = app.seat_statuses(event).await;
    assert_eq!(listed.len(), 2);
    assert!(new.iter().all(|s| listed.contains_key(s)));
}

#[sqlx::test(migrations = false)]
async fn an_event_on_sale_stays_as_it_is_when_a_publication_opens_it_again(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(3).await;
    let hold = app.held(event, &seats[..1], None).await;
    let response = app
        .put_inventory(
            event,
            &part_of(Uuid::now_v7(), &seats[1..2], true),
            &app.catalog_token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let statuses = app.seat_statuses(event).await;
    assert_eq!(statuses.len(), 3, "nothing removed from an event on sale");
    assert_eq!(statuses[&seats[0]], "HELD");
    assert_eq!(
        app.release(hold, &app.service_token).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn a_cancelled_event_refuses_a_publication_and_open_needs_one(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let event = Uuid::now_v7();
    let message = json!({
        "id": Uuid::now_v7(), "type": "event.cancelled", "source": "catalog-service",
        "occurredAt": chrono::Utc::now(), "data": {"eventId": event, "reason": "storm"},
    });
    assert_eq!(
        app.post("/v1/messages", &message, &app.catalog_token)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    assert_problem(
        app.put_inventory(
            event,
            &part_of(Uuid::now_v7(), &ids(1), true),
            &app.catalog_token,
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;

    let mut body = inventory(&ids(1), "50.00");
    body["open"] = json!(true);
    let invalid = assert_problem(
        app.put_inventory(Uuid::now_v7(), &body, &app.catalog_token)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(invalid["errors"][0]["field"], "open");
}
