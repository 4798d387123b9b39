use serde_json::{Value, json};
use service_kit::money::Money;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_code, assert_problem, charge_body, new_key};

fn id_of(payment: &Value) -> String {
    payment["id"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = false)]
async fn a_partial_refund_then_the_rest_moves_the_payment_to_refunded(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "100.00").await);

    let partial = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"amount": "30.00", "reason": "one seat returned"}),
        )
        .await;
    assert_eq!(partial.status(), StatusCode::OK);
    let partial: Value = partial.json().await.unwrap();
    assert_eq!(partial["status"], "PARTIALLY_REFUNDED");
    assert_eq!(partial["refundedAmount"], "30.00");
    assert_eq!(partial["amount"], "100.00");

    // No amount: all that remains.
    let rest = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"reason": "event cancelled"}),
        )
        .await;
    assert_eq!(rest.status(), StatusCode::OK);
    let rest: Value = rest.json().await.unwrap();
    assert_eq!(rest["status"], "REFUNDED");
    assert_eq!(rest["refundedAmount"], "100.00");

    let refunds: Vec<(Money, String)> = sqlx::query_as(
        "SELECT amount, reason FROM refunds WHERE payment_id = $1::uuid ORDER BY created_at",
    )
    .bind(payment.as_str())
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let amounts: Vec<String> = refunds.iter().map(|(a, _)| a.to_string()).collect();
    assert_eq!(amounts, ["30.00", "70.00"]);
    assert_eq!(refunds[1].1, "event cancelled");
    assert_eq!(app.gateway().refunds_made(), 2);

    // Nothing is left to refund.
    let again = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"reason": "once more"}),
        )
        .await;
    let problem = assert_problem(again, StatusCode::CONFLICT).await;
    assert_code(&problem, "not-refundable");
}

#[sqlx::test(migrations = false)]
async fn a_refund_above_what_remains_is_409_not_refundable(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "50.00").await);
    let response = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"amount": "50.01", "reason": "too much"}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert_code(&problem, "not-refundable");
    assert!(
        problem["detail"].as_str().unwrap().contains("50.00"),
        "{problem}"
    );
    assert_eq!(app.stored_status(&payment).await, "SUCCESS");
    assert_eq!(app.gateway().refunds_made(), 0);
}

#[sqlx::test(migrations = false)]
async fn a_refund_with_cents_in_a_currency_without_cents_is_422(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let mut body = charge_body(Uuid::now_v7(), "1500.00", "tok_visa");
    body["currency"] = json!("JPY");
    body["userId"] = json!(buyer);
    let charged = app
        .charge(&app.service_token, Some(&new_key()), &body)
        .await;
    assert_eq!(charged.status(), StatusCode::CREATED);
    let payment = id_of(&charged.json().await.unwrap());
    let response = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"amount": "0.50", "reason": "half a yen"}),
        )
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(app.gateway().refunds_made(), 0);
}

#[sqlx::test(migrations = false)]
async fn twenty_concurrent_refunds_never_exceed_the_charge(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "100.00").await);
    let attempts = (0..20).map(|_| {
        let (app, payment) = (&app, &payment);
        async move {
            app.refund(
                &app.service_token,
                payment,
                &new_key(),
                &json!({"amount": "10.00", "reason": "partial"}),
            )
            .await
            .status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    for status in &statuses {
        assert!(
            matches!(*status, StatusCode::OK | StatusCode::CONFLICT),
            "{status}"
        );
    }
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 10, "exactly the charge is refunded");

    let (refunded, sum, status): (String, String, String) = sqlx::query_as(
        "SELECT p.refunded_amount::text,
                (SELECT COALESCE(sum(r.amount), 0) FROM refunds r WHERE r.payment_id = p.id)::text,
                p.status
         FROM payments p WHERE p.id = $1::uuid",
    )
    .bind(payment.as_str())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(sum, "100.00");
    assert_eq!(refunded, sum);
    assert_eq!(status, "REFUNDED");
    assert_eq!(app.gateway().refunds_made(), 10);
}

#[sqlx::test(migrations = false)]
async fn ten_concurrent_refunds_of_everything_at_a_slow_gateway_refund_once(pool: PgPool) {
    // No lock is held across the gateway call: the reservation alone keeps them apart.
    let app = TestApp::spawn_with(pool, &[("SIMULATED_GATEWAY_LATENCY_MS", "50")]).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "80.00").await);
    let attempts = (0..10).map(|_| {
        let (app, payment) = (&app, &payment);
        async move {
            app.refund(
                &app.service_token,
                payment,
                &new_key(),
                &json!({"reason": "event cancelled"}),
            )
            .await
            .status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, refused), (1, 9), "{statuses:?}");
    assert_eq!(app.gateway().refunds_made(), 1);
    let now = app.payment_now(&payment).await;
    assert_eq!(now["status"], "REFUNDED");
    assert_eq!(now["refundedAmount"], "80.00");
}

#[sqlx::test(migrations = false)]
async fn the_database_refuses_refunds_that_do_not_add_up(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "50.00").await);
    app.refund(
        &app.service_token,
        &payment,
        &new_key(),
        &json!({"amount": "20.00", "reason": "one seat"}),
    )
    .await;
    // A reservation without a pending refund, or a refund without its amount on the payment:
    // refused at commit, whoever writes it.
    for statement in [
        "UPDATE payments SET refund_reserved = 10 WHERE id = $1::uuid",
        "UPDATE refunds SET status = 'PENDING' WHERE payment_id = $1::uuid",
        "UPDATE payments SET refunded_amount = 30, status = 'PARTIALLY_REFUNDED'
         WHERE id = $1::uuid",
    ] {
        let error = sqlx::query(statement)
            .bind(payment.as_str())
            .execute(&app.pool)
            .await
            .unwrap_err();
        let constraint = error.as_database_error().and_then(|e| e.constraint());
        assert_eq!(constraint, Some("refunds_add_up"), "{statement}: {error}");
    }
}

#[sqlx::test(migrations = false)]
async fn a_failed_payment_cannot_be_refunded(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let declined = app
        .charge_for(buyer, Uuid::now_v7(), "30.00", "tok_chargeDeclined")
        .await;
    let problem = assert_problem(declined, StatusCode::PAYMENT_REQUIRED).await;
    let payment = id_of(&problem["payment"]);
    let response = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"reason": "nothing to give back"}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert_code(&problem, "not-refundable");
    assert!(problem["detail"].as_str().unwrap().contains("FAILED"));
    assert_eq!(app.gateway().refunds_made(), 0);
}

#[sqlx::test(migrations = false)]
async fn a_pending_payment_cannot_be_refunded(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    let failed = app
        .charge_for(buyer, order, "30.00", "tok_gatewayError")
        .await;
    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    let (pending, _) = app.payments_of_order(order).await.remove(0);
    let response = app
        .refund(
            &app.service_token,
            &pending.to_string(),
            &new_key(),
            &json!({"reason": "not yet charged"}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert_code(&problem, "not-refundable");
}

#[sqlx::test(migrations = false)]
async fn a_customer_cannot_refund_even_their_own_payment(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (token, _) = app.buyer().await;
    let paid = app
        .charge_for_buyer(
            &token,
            Some(&new_key()),
            &charge_body(Uuid::now_v7(), "25.00", "tok_visa"),
        )
        .await;
    let payment = id_of(&paid.json::<Value>().await.unwrap());
    let response = app
        .refund(
            &token,
            &payment,
            &new_key(),
            &json!({"reason": "I changed my mind"}),
        )
        .await;
    assert_problem(response, StatusCode::FORBIDDEN).await;
    assert_eq!(app.stored_status(&payment).await, "SUCCESS");
    assert_eq!(app.gateway().refunds_made(), 0);
}

#[sqlx::test(migrations = false)]
async fn an_admin_may_refund(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "25.00").await);
    let admin = app.admin().await;
    let response = app
        .refund(&admin, &payment, &new_key(), &json!({"reason": "goodwill"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let refunded: Value = response.json().await.unwrap();
    assert_eq!(refunded["status"], "REFUNDED");
}

#[sqlx::test(migrations = false)]
async fn the_same_refund_key_replays_and_refunds_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "60.00").await);
    let key = new_key();
    let body = json!({"amount": "20.00", "reason": "one seat"});
    let first = app.refund(&app.service_token, &payment, &key, &body).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first: Value = first.json().await.unwrap();
    let again = app.refund(&app.service_token, &payment, &key, &body).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(first, again.json::<Value>().await.unwrap());
    assert_eq!(app.gateway().refunds_made(), 1);

    let changed = app
        .refund(
            &app.service_token,
            &payment,
            &key,
            &json!({"amount": "25.00", "reason": "one seat"}),
        )
        .await;
    assert_problem(changed, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[sqlx::test(migrations = false)]
async fn a_refund_needs_a_key_a_reason_and_a_known_payment(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "60.00").await);
    let no_key = app
        .http
        .post(app.url(&format!("/v1/payments/{payment}/refund")))
        .bearer_auth(&app.service_token)
        .json(&json!({"reason": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(no_key, StatusCode::BAD_REQUEST).await;
    let no_reason = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"reason": " "}),
        )
        .await;
    assert_problem(no_reason, StatusCode::UNPROCESSABLE_ENTITY).await;
    let negative = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"amount": "-1.00", "reason": "x"}),
        )
        .await;
    assert_problem(negative, StatusCode::UNPROCESSABLE_ENTITY).await;
    let unknown = app
        .refund(
            &app.service_token,
            &Uuid::now_v7().to_string(),
            &new_key(),
            &json!({"reason": "x"}),
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND).await;
}
