//! Refunds whose gateway call fails after the gateway acted: the money moved, and the service must
//! know it. Run on the Stripe adapter against a fake Stripe that keeps books of what it really
//! refunded and, like Stripe, replays the first answer to a key (a 500 included).

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::fake_stripe::FakeStripe;
use crate::helpers::{StatusCode, TestApp, assert_code, assert_problem, new_key};

/// Past the reconciler's window (a minute by default).
const LATER: Duration = Duration::from_secs(120);

fn id_of(payment: &Value) -> String {
    payment["id"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = false)]
async fn a_refund_the_gateway_made_but_answered_500_stays_pending_until_the_reconciler_settles_it(
    pool: PgPool,
) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(pool, &stripe, &[]).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "100.00").await);
    stripe.lose_refund_answers(1);

    let lost = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"reason": "event cancelled"}),
        )
        .await;
    let problem = assert_problem(lost, StatusCode::BAD_GATEWAY).await;
    assert_code(&problem, "gateway-error");
    assert_eq!(stripe.refunded().to_string(), "100.00", "Stripe refunded");
    // Written down before the call: the refund is known, pending, and holds its amount.
    assert_eq!(
        app.stored_refunds(&payment).await,
        [("PENDING".to_owned(), "100.00".to_owned())]
    );
    let now = app.payment_now(&payment).await;
    assert_eq!(now["status"], "SUCCESS");
    assert_eq!(now["refundedAmount"], "0.00");

    // What the pending refund holds cannot be refunded a second time.
    let another = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"amount": "30.00", "reason": "one seat"}),
        )
        .await;
    let problem = assert_problem(another, StatusCode::CONFLICT).await;
    assert_code(&problem, "not-refundable");
    assert_eq!(stripe.refunds_made(), 1);

    app.age_pending(LATER).await;
    app.reconcile().await;
    let settled = app.payment_now(&payment).await;
    assert_eq!(settled["status"], "REFUNDED");
    assert_eq!(settled["refundedAmount"], "100.00");
    assert_eq!(
        app.stored_refunds(&payment).await,
        [("SUCCESS".to_owned(), "100.00".to_owned())]
    );
    assert_eq!(stripe.refunded().to_string(), "100.00", "no money lost");
}

#[sqlx::test(migrations = false)]
async fn a_refund_cut_off_by_the_request_timeout_after_the_gateway_acted_is_settled_by_the_reconciler(
    pool: PgPool,
) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(pool, &stripe, &[("REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "80.00").await);
    stripe.answer_refunds_after(Duration::from_secs(3));

    let cut = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"amount": "25.00", "reason": "one seat"}),
        )
        .await;
    assert_problem(cut, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(stripe.refunded().to_string(), "25.00");
    assert_eq!(
        app.stored_refunds(&payment).await,
        [("PENDING".to_owned(), "25.00".to_owned())]
    );

    app.age_pending(LATER).await;
    app.reconcile().await;
    let settled = app.payment_now(&payment).await;
    assert_eq!(settled["status"], "PARTIALLY_REFUNDED");
    assert_eq!(settled["refundedAmount"], "25.00");
    assert_eq!(
        app.stored_refunds(&payment).await,
        [("SUCCESS".to_owned(), "25.00".to_owned())]
    );
}

#[sqlx::test(migrations = false)]
async fn a_retry_with_the_same_key_resumes_the_same_refund_and_money_moves_once(pool: PgPool) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(pool, &stripe, &[("REQUEST_TIMEOUT_SECONDS", "1")]).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "100.00").await);
    stripe.answer_refunds_after(Duration::from_secs(3));
    let key = new_key();
    // All that remains: 100.00, decided now, once.
    let everything = json!({"reason": "order cancelled"});

    let cut = app
        .refund(&app.service_token, &payment, &key, &everything)
        .await;
    assert_problem(cut, StatusCode::SERVICE_UNAVAILABLE).await;

    // Meanwhile another refund cannot take what the first one is giving back.
    let another = app
        .refund(
            &app.service_token,
            &payment,
            &new_key(),
            &json!({"amount": "30.00", "reason": "goodwill"}),
        )
        .await;
    assert_problem(another, StatusCode::CONFLICT).await;

    // The retry (once the cut-off request's key is free again) resumes the same refund, with
    // the same gateway key and amount: Stripe answers the first refund, nothing more moves.
    let mut retried = None;
    for _ in 0..100 {
        let response = app
            .refund(&app.service_token, &payment, &key, &everything)
            .await;
        if response.status() != StatusCode::CONFLICT {
            retried = Some(response);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let retried = retried.expect("the key was released");
    assert_eq!(retried.status(), StatusCode::OK);
    let refunded: Value = retried.json().await.unwrap();
    assert_eq!(refunded["status"], "REFUNDED");
    assert_eq!(refunded["refundedAmount"], "100.00");
    assert_eq!(stripe.refunds_made(), 1, "refunded once");
    assert_eq!(stripe.refunded().to_string(), "100.00");
    assert_eq!(
        app.stored_refunds(&payment).await,
        [("SUCCESS".to_owned(), "100.00".to_owned())]
    );
}

#[sqlx::test(migrations = false)]
async fn concurrent_refunds_with_lost_answers_never_refund_more_than_the_charge(pool: PgPool) {
    let stripe = FakeStripe::start().await;
    let app = TestApp::spawn_stripe(pool, &stripe, &[]).await;
    let (_, buyer) = app.buyer().await;
    let payment = id_of(&app.paid(buyer, "100.00").await);
    stripe.lose_refund_answers(5);

    let attempts = (0..20).map(|_| {
        let (app, payment) = (&app, &payment);
        async move {
            app.refund(
                &app.service_token,
                payment,
                &new_key(),
                &json!({"amount": "10.00", "reason": "one seat"}),
            )
            .await
            .status()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(
        stripe.refunded().to_string(),
        "100.00",
        "never more than the charge"
    );
    let count = |wanted: StatusCode| statuses.iter().filter(|s| **s == wanted).count();
    assert_eq!(count(StatusCode::OK), 5, "{statuses:?}");
    assert_eq!(count(StatusCode::BAD_GATEWAY), 5, "{statuses:?}");
    assert_eq!(count(StatusCode::CONFLICT), 10, "{statuses:?}");

    app.age_pending(LATER).await;
    app.reconcile().await;
    let settled = app.payment_now(&payment).await;
    assert_eq!(settled["status"], "REFUNDED");
    assert_eq!(settled["refundedAmount"], "100.00");
    let refunds = app.stored_refunds(&payment).await;
    assert_eq!(refunds.len(), 10);
    assert!(
        refunds.iter().all(|(status, _)| status == "SUCCESS"),
        "{refunds:?}"
    );
}
