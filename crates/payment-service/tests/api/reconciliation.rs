//! The reconciler asks the gateway about every PENDING charge and refund older than its window
//! and settles it: what the gateway did becomes the record, and what it never saw is let go. Run on
//! the Stripe adapter against a fake Stripe that keeps books of what it really did.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::fake_stripe::FakeStripe;
use crate::helpers::{StatusCode, TestApp, assert_problem, charge_body, new_key};

const LATER: Duration = Duration::from_secs(120);

/// order-service charging `amount` EUR for `order` with `key`; the answer's status.
async fn charge(app: &TestApp, buyer: Uuid, order: Uuid, key: &str) -> StatusCode {
    let mut body = charge_body(order, "40.00", "tok_visa");
    body["userId"] = json!(buyer);
    app.charge(&app.service_token, Some(key), &body)
        .await
        .status()
}

async fn the_payment_of(app: &TestApp, order: Uuid) -> Value {
    let (id, _) = app.payments_of_order(order).await.remove(0);
    app.payment_now(&id.to_string()).await
}

#[sqlx::test(migrations = false)]
async fn the_reconciler_settles_a_pending_charge_the_gateway_made(pool: PgPool) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(pool, &stripe, &[]).await;
    let (_, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    stripe.lose_charge_answers(1);

    assert_eq!(
        charge(&app, buyer, order, &new_key()).await,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(stripe.charges_made(), 1, "Stripe took the money");
    assert_eq!(the_payment_of(&app, order).await["status"], "PENDING");

    app.age_pending(LATER).await;
    app.reconcile().await;
    let payment = the_payment_of(&app, order).await;
    assert_eq!(payment["status"], "SUCCESS");
    assert_eq!(payment["gatewayReference"], "pi_fake1");
    assert_eq!(
        app.attempts(payment["id"].as_str().unwrap())
            .await
            .last()
            .unwrap(),
        "succeeded"
    );
}

#[sqlx::test(migrations = false)]
async fn a_charge_stripes_search_has_not_indexed_yet_is_found_in_its_list(pool: PgPool) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(pool, &stripe, &[]).await;
    let (_, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    stripe.lose_charge_answers(1);
    stripe.search_lags();

    assert_eq!(
        charge(&app, buyer, order, &new_key()).await,
        StatusCode::BAD_GATEWAY
    );
    app.age_pending(LATER).await;
    app.reconcile().await;
    // Not found by search is not "never made": the list, which is not eventually consistent,
    // has it.
    assert_eq!(the_payment_of(&app, order).await["status"], "SUCCESS");
}

#[sqlx::test(migrations = false)]
async fn the_reconciler_fails_a_pending_charge_the_gateway_never_saw_and_frees_the_order(
    pool: PgPool,
) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(pool, &stripe, &[]).await;
    let (_, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    stripe.refuse_charges(1);

    assert_eq!(
        charge(&app, buyer, order, &new_key()).await,
        StatusCode::BAD_GATEWAY
    );
    assert_eq!(stripe.charges_made(), 0);
    // While it is pending, it holds the order.
    assert_eq!(
        charge(&app, buyer, order, &new_key()).await,
        StatusCode::CONFLICT
    );

    app.age_pending(LATER).await;
    app.reconcile().await;
    let payment = the_payment_of(&app, order).await;
    assert_eq!(payment["status"], "FAILED");
    assert_eq!(payment["failureReason"], "not_at_gateway");
    // The order may be paid again, and is charged once.
    assert_eq!(
        charge(&app, buyer, order, &new_key()).await,
        StatusCode::CREATED
    );
    assert_eq!(stripe.charges_made(), 1);
}

#[sqlx::test(migrations = false)]
async fn a_pending_charge_younger_than_the_window_is_left_to_its_client(pool: PgPool) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(pool, &stripe, &[]).await;
    let (_, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    stripe.refuse_charges(1);

    assert_eq!(
        charge(&app, buyer, order, &new_key()).await,
        StatusCode::BAD_GATEWAY
    );
    app.age_pending(Duration::from_secs(30)).await;
    app.reconcile().await;
    assert_eq!(the_payment_of(&app, order).await["status"], "PENDING");
    assert_eq!(stripe.lookups().await, 0, "nothing was asked");
}

#[sqlx::test(migrations = false)]
async fn a_pending_refund_the_gateway_never_saw_is_released_and_its_retry_makes_it(pool: PgPool) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(pool, &stripe, &[]).await;
    let (_, buyer) = app.buyer().await;
    let payment = app.paid(buyer, "60.00").await;
    let payment = payment["id"].as_str().unwrap();
    stripe.refuse_refunds(1);
    let key = new_key();
    let body = json!({"amount": "20.00", "reason": "one seat"});

    let refused = app.refund(&app.service_token, payment, &key, &body).await;
    assert_problem(refused, StatusCode::BAD_GATEWAY).await;
    assert_eq!(stripe.refunds_made(), 0);

    app.age_pending(LATER).await;
    app.reconcile().await;
    // Released: the refund failed, nothing was given back, the amount is refundable again.
    assert_eq!(
        app.stored_refunds(payment).await,
        [("FAILED".to_owned(), "20.00".to_owned())]
    );
    let now = app.payment_now(payment).await;
    assert_eq!(now["status"], "SUCCESS");
    assert_eq!(now["refundedAmount"], "0.00");

    // The caller's retry with its key (order-service retries a refund with one key until it
    // is answered) makes that same refund now, once.
    let retried = app.refund(&app.service_token, payment, &key, &body).await;
    assert_eq!(retried.status(), StatusCode::OK);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["status"], "PARTIALLY_REFUNDED");
    assert_eq!(retried["refundedAmount"], "20.00");
    assert_eq!(stripe.refunds_made(), 1);
    assert_eq!(
        app.stored_refunds(payment).await,
        [("SUCCESS".to_owned(), "20.00".to_owned())]
    );
}
