use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestApp, assert_problem};

#[sqlx::test(migrations = false)]
async fn publishing_without_seats_is_409(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app.draft(&organizer, venue, "Empty", "concert", 3).await;
    assert_problem(app.publish(&organizer, event).await, StatusCode::CONFLICT).await;
}

#[sqlx::test(migrations = false)]
async fn publishing_pushes_the_seats_to_seating_first(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app
        .on_sale(&organizer, venue, "Jazz", "concert", 3, 6)
        .await;
    assert_eq!(app.event(event, None).await["status"], "ON_SALE");
    let catalog: Value = app
        .get(&format!("/v1/events/{event}/seats"), None)
        .await
        .json()
        .await
        .unwrap();
    let seating: Value = app
        .http
        .get(format!(
            "{}/v1/seats?eventId={event}&limit=100",
            app.seating
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seat_ids = |list: &Value| {
        let mut ids: Vec<String> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["seatId"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(seat_ids(&catalog), seat_ids(&seating));
    assert!(
        seating["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "AVAILABLE" && s["price"] == "40.00")
    );
    // Publishing again is refused: it is not a draft.
    assert_problem(app.publish(&organizer, event).await, StatusCode::CONFLICT).await;
}

#[sqlx::test(migrations = false)]
async fn publishing_while_seating_is_down_is_503_and_the_event_stays_a_draft(pool: PgPool) {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let app = TestApp::spawn_with(pool, &[("SEATING_SERVICE_URL", closed.as_str())]).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app.draft(&organizer, venue, "Jazz", "concert", 3).await;
    app.put_layout(&organizer, event, 1, 4).await;
    let response = app.publish(&organizer, event).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(app.event(event, Some(&organizer)).await["status"], "DRAFT");
}

#[sqlx::test(migrations = false)]
async fn cancelling_tells_seating_which_then_refuses_holds(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app
        .on_sale(&organizer, venue, "Jazz", "concert", 3, 4)
        .await;
    let seats: Value = app
        .get(&format!("/v1/events/{event}/seats"), None)
        .await
        .json()
        .await
        .unwrap();
    let seat = seats["items"][0]["seatId"].clone();

    let response = app
        .post(
            &format!("/v1/events/{event}/cancel"),
            &json!({"reason": "artist ill"}),
            &organizer,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["status"].as_str(), body["cancelReason"].as_str()),
        (Some("CANCELLED"), Some("artist ill"))
    );
    let again = app
        .post(
            &format!("/v1/events/{event}/cancel"),
            &json!({"reason": "again"}),
            &organizer,
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK, "cancelling is idempotent");

    app.deliver().await;
    let hold = app
        .seating_post(
            "/v1/seats/reserve",
            &json!({"eventId": event, "seatIds": [seat], "holderId": Uuid::now_v7()}),
        )
        .await;
    assert_problem(hold, StatusCode::CONFLICT).await;
    let messages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM outbox WHERE type = 'event.cancelled'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(messages, 1, "one message, not one per cancel call");
    // A cancelled event is final.
    assert_problem(app.publish(&organizer, event).await, StatusCode::CONFLICT).await;
}

#[sqlx::test(migrations = false)]
async fn the_last_sale_makes_the_event_sold_out_and_a_return_puts_it_back_on_sale(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app
        .on_sale(&organizer, venue, "Jazz", "concert", 3, 2)
        .await;
    let seats: Value = app
        .get(&format!("/v1/events/{event}/seats"), None)
        .await
        .json()
        .await
        .unwrap();
    let seat_ids: Vec<Value> = seats["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seatId"].clone())
        .collect();

    let hold: Value = app
        .seating_post(
            "/v1/seats/reserve",
            &json!({"eventId": event, "seatIds": seat_ids, "holderId": Uuid::now_v7()}),
        )
        .await
        .json()
        .await
        .unwrap();
    let order = Uuid::now_v7();
    let allocated = app
        .seating_post(
            "/v1/seats/allocate",
            &json!({"holdId": hold["holdId"], "orderId": order}),
        )
        .await;
    assert_eq!(allocated.status(), StatusCode::OK);
    app.deliver().await;
    assert_eq!(app.event(event, None).await["status"], "SOLD_OUT");

    let returned = app
        .seating_post(
            "/v1/seats/return",
            &json!({"eventId": event, "seatIds": [seat_ids[0]], "orderId": order}),
        )
        .await;
    assert_eq!(returned.status(), StatusCode::OK);
    app.deliver().await;
    assert_eq!(app.event(event, None).await["status"], "ON_SALE");
}
