use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_code, assert_problem, charge_body, new_key};

#[sqlx::test(migrations = false)]
async fn order_service_charges_a_buyers_order_and_gets_the_successful_payment(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    let response = app
        .charge_for_buyer(
            &token,
            Some(&new_key()),
            &charge_body(order, "262.5", "tok_visa"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let payment: Value = response.json().await.unwrap();
    assert_eq!(payment["status"], "SUCCESS");
    assert_eq!(payment["orderId"], order.to_string());
    assert_eq!(payment["userId"], buyer.to_string());
    assert_eq!(payment["amount"], "262.50");
    assert_eq!(payment["refundedAmount"], "0.00");
    assert_eq!(payment["currency"], "EUR");
    assert_eq!(payment["method"], "card");
    assert_eq!(payment["gateway"], "simulated");
    assert!(
        payment["gatewayReference"]
            .as_str()
            .unwrap()
            .starts_with("sim_ch_")
    );
    assert!(payment["failureReason"].is_null());
    for field in ["id", "createdAt", "updatedAt"] {
        assert!(payment[field].is_string(), "{field} missing: {payment}");
    }
    assert_eq!(app.gateway().charges_made(), 1);
}

#[sqlx::test(migrations = false)]
async fn every_gateway_attempt_is_recorded_without_the_card_token(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let response = app
        .charge_for_buyer(
            &token,
            Some(&new_key()),
            &charge_body(Uuid::now_v7(), "10.00", "tok_mastercard"),
        )
        .await;
    let payment: Value = response.json().await.unwrap();
    let id = payment["id"].as_str().unwrap();
    let (operation, outcome, request, reference, latency): (
        String,
        String,
        Value,
        Option<String>,
        i64,
    ) = sqlx::query_as(
        "SELECT operation, outcome, request, gateway_reference, latency_ms
             FROM gateway_attempts WHERE payment_id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(operation, "charge");
    assert_eq!(outcome, "succeeded");
    assert_eq!(reference.as_deref(), payment["gatewayReference"].as_str());
    assert!(latency >= 0);
    assert_eq!(request["method"], "card");
    assert_eq!(request["amount"], "10.00");
    assert_eq!(request["currency"], "EUR");
    // The payment's id is the key the gateway got.
    assert_eq!(request["idempotencyKey"], id);
    assert!(!request.to_string().contains("tok_mastercard"), "{request}");
}

#[sqlx::test(migrations = false)]
async fn a_service_charges_for_the_user_it_names_and_must_name_one(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let response = app
        .charge_for(buyer, Uuid::now_v7(), "50.00", "tok_visa")
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let payment: Value = response.json().await.unwrap();
    assert_eq!(payment["userId"], buyer.to_string());

    let anonymous = app
        .charge(
            &app.service_token,
            Some(&new_key()),
            &charge_body(Uuid::now_v7(), "50.00", "tok_visa"),
        )
        .await;
    let problem = assert_problem(anonymous, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(problem["errors"][0]["field"], "userId");
}

#[sqlx::test(migrations = false)]
async fn a_customer_token_cannot_charge_even_its_own_order(pool: PgPool) {
    // Buyers pay through order-service; a user charging directly could pay 0.01 for any order.
    let app = TestApp::spawn(pool).await;
    let (token, buyer) = app.buyer().await;
    let mut body = charge_body(Uuid::now_v7(), "50.00", "tok_visa");
    let own = app.charge(&token, Some(&new_key()), &body).await;
    assert_problem(own, StatusCode::FORBIDDEN).await;
    body["userId"] = json!(buyer);
    let named = app.charge(&token, Some(&new_key()), &body).await;
    assert_problem(named, StatusCode::FORBIDDEN).await;
    // Refused before the body is read: a customer learns nothing about its shape.
    let malformed = app.charge_raw(&token, &new_key(), "{").await;
    assert_problem(malformed, StatusCode::FORBIDDEN).await;
    assert_eq!(app.gateway().charges_made(), 0);
}

#[sqlx::test(migrations = false)]
async fn the_same_key_and_body_replay_a_success_without_charging_again(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let key = new_key();
    let body = charge_body(Uuid::now_v7(), "99.99", "tok_visa");
    let first = app.charge_for_buyer(&token, Some(&key), &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    let again = app.charge_for_buyer(&token, Some(&key), &body).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first, again);
    assert_eq!(app.gateway().charges_made(), 1);
}

#[sqlx::test(migrations = false)]
async fn the_same_key_and_body_replay_a_decline(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let key = new_key();
    let body = charge_body(Uuid::now_v7(), "20.00", "tok_chargeDeclined");
    let first = app.charge_for_buyer(&token, Some(&key), &body).await;
    let first = assert_problem(first, StatusCode::PAYMENT_REQUIRED).await;
    assert_code(&first, "payment-declined");
    assert_eq!(first["status"], 402);
    assert_eq!(first["payment"]["status"], "FAILED");
    assert_eq!(first["payment"]["failureReason"], "card_declined");

    let again = app.charge_for_buyer(&token, Some(&key), &body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = assert_problem(again, StatusCode::PAYMENT_REQUIRED).await;
    assert_eq!(first, again);
    let id = first["payment"]["id"].as_str().unwrap();
    assert_eq!(app.stored_status(id).await, "FAILED");
    assert_eq!(app.attempts(id).await, ["declined"]);
}

#[sqlx::test(migrations = false)]
async fn the_same_key_with_another_body_is_422(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let key = new_key();
    let order = Uuid::now_v7();
    let first = app
        .charge_for_buyer(&token, Some(&key), &charge_body(order, "20.00", "tok_visa"))
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let changed = app
        .charge_for_buyer(&token, Some(&key), &charge_body(order, "21.00", "tok_visa"))
        .await;
    let problem = assert_problem(changed, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_code(&problem, "idempotency-key-reused");
    assert_eq!(app.gateway().charges_made(), 1);
}

#[sqlx::test(migrations = false)]
async fn declines_carry_the_gateway_reason(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    for (card, reason) in [
        ("tok_insufficientFunds", "insufficient_funds"),
        ("tok_unknownToTheGateway", "invalid_token"),
    ] {
        let response = app.charge_for(buyer, Uuid::now_v7(), "15.00", card).await;
        let problem = assert_problem(response, StatusCode::PAYMENT_REQUIRED).await;
        assert_eq!(problem["payment"]["failureReason"], reason);
    }
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"payments_failed_total{reason="insufficient_funds"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"payments_total{status="failed"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains("payment_gateway_request_duration_seconds"));
}

#[sqlx::test(migrations = false)]
async fn a_declined_payment_frees_the_order_for_a_new_attempt_with_a_new_key(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let order = Uuid::now_v7();
    let declined = app
        .charge_for_buyer(
            &token,
            Some(&new_key()),
            &charge_body(order, "40.00", "tok_chargeDeclined"),
        )
        .await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    let paid = app
        .charge_for_buyer(
            &token,
            Some(&new_key()),
            &charge_body(order, "40.00", "tok_visa"),
        )
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let statuses: Vec<String> = app
        .payments_of_order(order)
        .await
        .into_iter()
        .map(|(_, status)| status)
        .collect();
    assert_eq!(statuses, ["FAILED", "SUCCESS"]);
}

#[sqlx::test(migrations = false)]
async fn a_second_charge_for_a_paid_order_is_409_order_already_paid(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let order = Uuid::now_v7();
    let first = app
        .charge_for_buyer(
            &token,
            Some(&new_key()),
            &charge_body(order, "40.00", "tok_visa"),
        )
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = app
        .charge_for_buyer(
            &token,
            Some(&new_key()),
            &charge_body(order, "40.00", "tok_visa"),
        )
        .await;
    let problem = assert_problem(second, StatusCode::CONFLICT).await;
    assert_code(&problem, "order-already-paid");
    assert_eq!(app.gateway().charges_made(), 1);
    assert_eq!(app.payments_of_order(order).await.len(), 1);
}

#[sqlx::test(migrations = false)]
async fn a_gateway_error_is_502_and_a_retry_with_the_same_key_charges_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let key = new_key();
    let order = Uuid::now_v7();
    let body = charge_body(order, "75.00", "tok_gatewayErrorOnce");

    let failed = app.charge_for_buyer(&token, Some(&key), &body).await;
    let problem = assert_problem(failed, StatusCode::BAD_GATEWAY).await;
    assert_code(&problem, "gateway-error");
    let stored = app.payments_of_order(order).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, "PENDING");

    let retried = app.charge_for_buyer(&token, Some(&key), &body).await;
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert!(retried.headers().get("idempotent-replayed").is_none());
    let payment: Value = retried.json().await.unwrap();
    assert_eq!(payment["status"], "SUCCESS");
    // The same payment, retried at the gateway under its own id: one charge.
    assert_eq!(payment["id"], stored[0].0.to_string());
    assert_eq!(app.gateway().charges_made(), 1);
    assert_eq!(
        app.attempts(payment["id"].as_str().unwrap()).await,
        ["error", "succeeded"]
    );
    assert_eq!(app.payments_of_order(order).await.len(), 1);
}

#[sqlx::test(migrations = false)]
async fn a_retry_after_a_gateway_error_must_be_the_same_request(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let key = new_key();
    let order = Uuid::now_v7();
    let failed = app
        .charge_for_buyer(
            &token,
            Some(&key),
            &charge_body(order, "75.00", "tok_gatewayErrorOnce"),
        )
        .await;
    assert_problem(failed, StatusCode::BAD_GATEWAY).await;
    // Another card under the same key: refused, though the kit released the key after the 502.
    let other_card = app
        .charge_for_buyer(
            &token,
            Some(&key),
            &charge_body(order, "75.00", "tok_mastercard"),
        )
        .await;
    let problem = assert_problem(other_card, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_code(&problem, "idempotency-key-reused");
    assert_eq!(app.gateway().charges_made(), 0);
}

#[sqlx::test(migrations = false)]
async fn a_failing_gateway_leaves_the_payment_pending_and_nothing_is_replayed(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let key = new_key();
    let order = Uuid::now_v7();
    let body = charge_body(order, "75.00", "tok_gatewayError");
    for _ in 0..2 {
        let response = app.charge_for_buyer(&token, Some(&key), &body).await;
        assert!(response.headers().get("idempotent-replayed").is_none());
        assert_problem(response, StatusCode::BAD_GATEWAY).await;
    }
    let stored = app.payments_of_order(order).await;
    assert_eq!(stored.len(), 1, "one payment, retried");
    assert_eq!(stored[0].1, "PENDING");
    assert_eq!(
        app.attempts(&stored[0].0.to_string()).await,
        ["error", "error"]
    );
    assert_eq!(app.gateway().charges_made(), 0);

    // The pending payment holds the order: another attempt must use the same key.
    let other = app
        .charge_for_buyer(
            &token,
            Some(&new_key()),
            &charge_body(order, "75.00", "tok_visa"),
        )
        .await;
    let problem = assert_problem(other, StatusCode::CONFLICT).await;
    assert_code(&problem, "order-already-paid");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"payments_failed_total{reason="gateway_error"} 2"#),
        "{metrics}"
    );
}
