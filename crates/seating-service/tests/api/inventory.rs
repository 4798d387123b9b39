use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_problem, inventory};

#[sqlx::test(migrations = false)]
async fn the_inventory_upsert_is_idempotent(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let event = Uuid::now_v7();
    let seats: Vec<Uuid> = (0..25).map(|_| Uuid::now_v7()).collect();
    for _ in 0..2 {
        let response = app
            .put_inventory(event, &inventory(&seats, "80.00"), &app.catalog_token)
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["seatCount"], 25);
        assert_eq!(body["currency"], "EUR");
    }
    assert_eq!(app.seat_statuses(event).await.len(), 25);
}

#[sqlx::test(migrations = false)]
async fn held_and_sold_seats_keep_their_state_and_price(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(3).await;
    let hold = app.held(event, &seats[..1], None).await;
    let sold = app.held(event, &seats[1..2], None).await;
    app.allocate(sold, Uuid::now_v7()).await;

    let response = app
        .put_inventory(event, &inventory(&seats, "99.00"), &app.catalog_token)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let list: Value = app
        .get(&format!("/v1/seats?eventId={event}"), None)
        .await
        .json()
        .await
        .unwrap();
    let by_id = |id: Uuid| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["seatId"] == id.to_string())
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            by_id(seats[0])["status"].as_str(),
            by_id(seats[0])["price"].as_str()
        ),
        (Some("HELD"), Some("50.00"))
    );
    assert_eq!(
        (
            by_id(seats[1])["status"].as_str(),
            by_id(seats[1])["price"].as_str()
        ),
        (Some("SOLD"), Some("50.00"))
    );
    assert_eq!(
        (
            by_id(seats[2])["status"].as_str(),
            by_id(seats[2])["price"].as_str()
        ),
        (Some("AVAILABLE"), Some("99.00"))
    );
    let hold_view: Value = app
        .get(&format!("/v1/holds/{hold}"), Some(&app.service_token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(hold_view["status"], "ACTIVE");
}

#[sqlx::test(migrations = false)]
async fn only_services_send_inventories(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let response = app
        .put_inventory(
            Uuid::now_v7(),
            &inventory(&[Uuid::now_v7()], "10.00"),
            &token,
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN).await;
    // The role is checked before the body, so a buyer learns nothing from a bad one.
    let bad = json!({"currency": "nope", "seats": []});
    assert_problem(
        app.put_inventory(Uuid::now_v7(), &bad, &token).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn bad_inventories_are_refused(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = app.catalog_token.clone();
    let seat = Uuid::now_v7();
    let duplicate_place = json!({"currency": "EUR", "seats": [
        {"seatId": seat, "section": "A", "row": "A", "number": 1, "price": "10.00"},
        {"seatId": Uuid::now_v7(), "section": "A", "row": "A", "number": 1, "price": "10.00"},
    ]});
    let response = app
        .put_inventory(Uuid::now_v7(), &duplicate_place, &token)
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;

    let negative = json!({"currency": "EUR", "seats": [
        {"seatId": seat, "section": "A", "row": "A", "number": 1, "price": "-1.00"}]});
    assert_problem(
        app.put_inventory(Uuid::now_v7(), &negative, &token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let bad_currency = json!({"currency": "EURO", "seats": [
        {"seatId": seat, "section": "A", "row": "A", "number": 1, "price": "1.00"}]});
    assert_problem(
        app.put_inventory(Uuid::now_v7(), &bad_currency, &token)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let float_price = json!({"currency": "EUR", "seats": [
        {"seatId": seat, "section": "A", "row": "A", "number": 1, "price": 10.5}]});
    assert_problem(
        app.put_inventory(Uuid::now_v7(), &float_price, &token)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;

    // A seat id of one event cannot move to another.
    let (_, seats) = app.event_with_seats(1).await;
    let response = app
        .put_inventory(Uuid::now_v7(), &inventory(&seats, "10.00"), &token)
        .await;
    assert_problem(response, StatusCode::CONFLICT).await;
}

#[sqlx::test(migrations = false)]
async fn the_seat_list_filters_by_status_and_section(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(12).await;
    app.held(event, &seats[..2], None).await;
    let held: Value = app
        .get(&format!("/v1/seats?eventId={event}&status=HELD"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(held["items"].as_array().unwrap().len(), 2);
    let section: Value = app
        .get(
            &format!("/v1/seats?eventId={event}&section=A&status=AVAILABLE"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(section["items"].as_array().unwrap().len(), 10);
    let none: Value = app
        .get(&format!("/v1/seats?eventId={event}&section=Z"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);

    assert_problem(
        app.get(&format!("/v1/seats?eventId={event}&status=GONE"), None)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_problem(app.get("/v1/seats", None).await, StatusCode::BAD_REQUEST).await;
    assert_problem(
        app.get("/v1/seats?eventId=nope", None).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/seats?eventId={}", Uuid::now_v7()), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn the_seat_list_is_paged_like_every_other_list(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, _) = app.event_with_seats(45).await;
    let page = |query: &str| {
        let path = format!("/v1/seats?eventId={event}{query}");
        let app = &app;
        async move { app.get(&path, None).await }
    };
    let first: Value = page("").await.json().await.unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 20);
    assert_eq!(
        (
            first["page"].as_i64(),
            first["limit"].as_i64(),
            first["total"].as_i64()
        ),
        (Some(1), Some(20), Some(45))
    );
    let last: Value = page("&page=3").await.json().await.unwrap();
    assert_eq!(last["items"].as_array().unwrap().len(), 5);
    let beyond: Value = page("&page=9").await.json().await.unwrap();
    assert_eq!(
        (
            beyond["items"].as_array().unwrap().len(),
            beyond["total"].as_i64()
        ),
        (0, Some(45))
    );
    let all: Value = page("&limit=100").await.json().await.unwrap();
    let ids: std::collections::HashSet<_> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["seatId"].clone().to_string())
        .collect();
    assert_eq!(ids.len(), 45);
    for bad in ["&limit=101", "&limit=0", "&page=0"] {
        assert_problem(page(bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    }
}

#[sqlx::test(migrations = false)]
async fn the_seat_map_groups_by_section_and_row_with_counts(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(25).await;
    app.held(event, &seats[..3], None).await;
    let sold = app.held(event, &seats[3..5], None).await;
    app.allocate(sold, Uuid::now_v7()).await;

    let map: Value = app
        .get(&format!("/v1/events/{event}/seatmap"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            map["available"].as_i64(),
            map["held"].as_i64(),
            map["sold"].as_i64()
        ),
        (Some(20), Some(3), Some(2))
    );
    assert_eq!(map["status"], "ON_SALE");
    let section = &map["sections"][0];
    assert_eq!(section["section"], "A");
    let rows: Vec<&str> = section["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_str().unwrap())
        .collect();
    assert_eq!(rows, ["A", "B", "C"]);
    assert_eq!(section["rows"][0]["seats"].as_array().unwrap().len(), 10);
    assert_eq!(section["rows"][0]["seats"][0]["status"], "HELD");
    assert_problem(
        app.get(&format!("/v1/events/{}/seatmap", Uuid::now_v7()), None)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}
