use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_problem};

#[sqlx::test(migrations = false)]
async fn organizers_create_venues_and_anyone_reads_them(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let (customer, _) = app.user("customer").await;
    let refused = app
        .post(
            "/v1/venues",
            &json!({"name": "X", "city": "Porto", "capacity": 10}),
            &customer,
        )
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN).await;

    let lisbon = app.venue(&organizer, "Lisbon").await;
    app.venue(&organizer, "Porto").await;
    let venue: Value = app
        .get(&format!("/v1/venues/{lisbon}"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (venue["city"].as_str(), venue["capacity"].as_i64()),
        (Some("Lisbon"), Some(500))
    );
    let page: Value = app
        .get("/v1/venues?city=lisbon", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            page["total"].as_i64(),
            page["items"].as_array().unwrap().len()
        ),
        (Some(1), 1)
    );
    assert_eq!(
        (page["page"].as_i64(), page["limit"].as_i64()),
        (Some(1), Some(20))
    );
}

#[sqlx::test(migrations = false)]
async fn only_its_creator_or_an_admin_changes_a_venue(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (owner, _) = app.user("organizer").await;
    let (other, _) = app.user("organizer").await;
    let (admin, _) = app.user("admin").await;
    let venue = app.venue(&owner, "Lisbon").await;
    let path = format!("/v1/venues/{venue}");
    let refused = app
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&json!({"capacity": 9})),
            Some(&other),
        )
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN).await;
    let changed = app
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&json!({"capacity": 900})),
            Some(&admin),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let body: Value = changed.json().await.unwrap();
    assert_eq!(body["capacity"], 900);
    let invalid = app
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(&json!({"capacity": 0})),
            Some(&owner),
        )
        .await;
    assert_problem(invalid, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[sqlx::test(migrations = false)]
async fn the_openapi_document_passes_the_kits_audit(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = test_support::assert_openapi_truthful(&app.address).await;
    // Reading events and seats takes an optional token: a bad one is refused (401).
    let list = &doc["paths"]["/v1/events"]["get"];
    assert!(list["responses"]["401"].is_object(), "{list}");
}
