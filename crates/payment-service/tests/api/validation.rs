//! Bad input is refused before anything is written or charged, and a card number never echoes
//! back.

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_code, assert_problem, charge_body, new_key};

/// Charges `body` as a buyer and expects `status`; nothing may reach the gateway or the table.
async fn refused(app: &TestApp, body: &Value, status: StatusCode) -> Value {
    let (token, _) = app.buyer().await;
    let response = app.charge_for_buyer(&token, Some(&new_key()), body).await;
    let problem = assert_problem(response, status).await;
    assert_eq!(app.gateway().charges_made(), 0);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM payments")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
    problem
}

fn with(field: &str, value: Value) -> Value {
    let mut body = charge_body(Uuid::now_v7(), "10.00", "tok_visa");
    body[field] = value;
    body
}

#[sqlx::test(migrations = false)]
async fn a_charge_without_idempotency_key_is_400(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let response = app
        .charge_for_buyer(
            &token,
            None,
            &charge_body(Uuid::now_v7(), "10.00", "tok_visa"),
        )
        .await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );
    assert_eq!(app.gateway().charges_made(), 0);
}

#[sqlx::test(migrations = false)]
async fn a_charge_without_token_is_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app
        .http
        .post(app.url("/v1/payments/charge"))
        .header("idempotency-key", new_key())
        .json(&charge_body(Uuid::now_v7(), "10.00", "tok_visa"))
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNAUTHORIZED).await;
}

#[sqlx::test(migrations = false)]
async fn malformed_json_is_400(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app
        .charge_raw(&app.service_token, &new_key(), r#"{"orderId": "#)
        .await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert_code(&problem, "malformed-json");
}

#[sqlx::test(migrations = false)]
async fn a_negative_or_zero_amount_is_422(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for amount in ["-5.00", "0.00"] {
        let problem = refused(
            &app,
            &with("amount", json!(amount)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "amount");
    }
}

#[sqlx::test(migrations = false)]
async fn an_amount_with_three_decimals_or_as_a_json_number_is_422(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    refused(
        &app,
        &with("amount", json!("10.505")),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    refused(
        &app,
        &with("amount", json!(10.5)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn an_unknown_currency_is_422(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for currency in ["XYZ", "eur", "EURO"] {
        let problem = refused(
            &app,
            &with("currency", json!(currency)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "currency");
    }
}

#[sqlx::test(migrations = false)]
async fn cents_in_a_currency_without_cents_are_422(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let mut body = with("currency", json!("JPY"));
    body["amount"] = json!("1500.50");
    let problem = refused(&app, &body, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "amount");
}

#[sqlx::test(migrations = false)]
async fn a_method_other_than_card_is_422(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let problem = refused(
        &app,
        &with("method", json!("paypal")),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "method");
}

#[sqlx::test(migrations = false)]
async fn a_card_number_is_refused_and_never_echoed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let pan = "4242424242424242";
    for (field, value) in [
        ("cardNumber", json!(pan)),
        ("number", json!(pan)),
        ("number", json!({"value": pan, "cvc": "123"})),
    ] {
        let problem = refused(&app, &with(field, value), StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(problem["errors"][0]["field"], field);
        assert!(!problem.to_string().contains(pan), "{problem}");
    }
    // Nor as the token itself.
    let problem = refused(
        &app,
        &with("token", json!(pan)),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "token");
    assert!(!problem.to_string().contains(pan), "{problem}");
}

#[sqlx::test(migrations = false)]
async fn the_openapi_document_passes_the_kits_audit(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = test_support::assert_openapi_truthful(&app.address).await;
    // The key is required, and its rules are the contract's.
    let key = doc["paths"]["/v1/payments/charge"]["post"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "Idempotency-Key")
        .unwrap()
        .clone();
    assert_eq!(key["required"], true, "{key}");
    assert_eq!(key["schema"]["maxLength"], 255, "{key}");
}
