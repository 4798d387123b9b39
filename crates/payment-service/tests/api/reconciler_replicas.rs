//! The reconciler with the simulated gateway: several replicas at once, a restart between the
//! gateway's act and the reconciliation, and the metrics it exports.

use std::time::Duration;

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use payment_service::db::payments;
use payment_service::domain::{NOT_AT_GATEWAY, PaymentStatus};
use serde_json::Value;

use crate::helpers::{StatusCode, TestApp, charge_body, new_key, reconcile};

const LATER: Duration = Duration::from_secs(120);

/// The value of a series, as exported.
fn metric<'a>(metrics: &'a str, series: &str) -> &'a str {
    metrics
        .lines()
        .find_map(|line| Some(line.strip_prefix(series)?.trim()))
        .unwrap_or_else(|| panic!("{series} is not exported:\n{metrics}"))
}

#[sqlx::test(migrations = false)]
async fn two_reconcilers_at_once_settle_each_pending_item_once(pool: PgPool) {
    // Slow lookups and small batches, so that the two rounds interleave.
    let vars = [
        ("SIMULATED_GATEWAY_LATENCY_MS", "20"),
        ("PAYMENT_RECONCILE_BATCH", "3"),
    ];
    let app = TestApp::spawn_with(pool, &vars).await;
    let other = app.replica(&vars).await;
    let (_, buyer) = app.buyer().await;
    // Six charges the gateway never saw, six it made but whose answers were lost.
    for _ in 0..6 {
        let failed = app
            .charge_for(buyer, Uuid::now_v7(), "10.00", "tok_gatewayError")
            .await;
        assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    }
    app.gateway().lose_charge_answers(6);
    for _ in 0..6 {
        let lost = app
            .charge_for(buyer, Uuid::now_v7(), "10.00", "tok_visa")
            .await;
        assert_eq!(lost.status(), StatusCode::BAD_GATEWAY);
    }
    // And four refunds it made whose answers were lost.
    let payment = app.paid(buyer, "100.00").await;
    let payment = payment["id"].as_str().unwrap();
    app.gateway().lose_refund_answers(4);
    for _ in 0..4 {
        let lost = app
            .refund(
                &app.service_token,
                payment,
                &new_key(),
                &json!({"amount": "10.00", "reason": "one seat"}),
            )
            .await;
        assert_eq!(lost.status(), StatusCode::BAD_GATEWAY);
    }

    app.age_pending(LATER).await;
    tokio::join!(reconcile(&app.state), reconcile(&other));

    let other_gateway = other.gateway.as_simulated().unwrap();
    assert_eq!(
        app.gateway().lookups_made() + other_gateway.lookups_made(),
        16,
        "each item was asked about once"
    );
    assert!(other_gateway.lookups_made() > 0, "both replicas took part");
    let lookups: Vec<(i64,)> = sqlx::query_as(
        "SELECT count(*) FROM gateway_attempts
         WHERE operation IN ('charge_lookup', 'refund_lookup')
         GROUP BY COALESCE(refund_id, payment_id)",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(lookups.len(), 16);
    assert!(lookups.iter().all(|(n,)| *n == 1), "{lookups:?}");
    let statuses: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM payments GROUP BY status ORDER BY status")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        statuses,
        [
            ("FAILED".to_owned(), 6),
            ("PARTIALLY_REFUNDED".to_owned(), 1),
            ("SUCCESS".to_owned(), 6)
        ]
    );
    let now = app.payment_now(payment).await;
    assert_eq!(now["refundedAmount"], "40.00");
    assert_eq!(app.gateway().refunds_made(), 4);
}

#[sqlx::test(migrations = false)]
async fn what_the_simulated_gateway_did_survives_a_restart_of_the_service(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    app.gateway().lose_charge_answers(1);
    let lost = app.charge_for(buyer, order, "55.00", "tok_visa").await;
    assert_eq!(lost.status(), StatusCode::BAD_GATEWAY);
    assert_eq!(app.gateway().charges_made(), 1);

    // The service restarts: a new process, a new gateway object, the same database.
    let restarted = app.replica(&[]).await;
    app.age_pending(LATER).await;
    reconcile(&restarted).await;

    let (id, status) = app.payments_of_order(order).await.remove(0);
    assert_eq!(
        status, "SUCCESS",
        "the charge it made was found, not forgotten"
    );
    let reference: String =
        sqlx::query_scalar("SELECT reference FROM simulated_gateway_ledger WHERE key = $1")
            .bind(id.to_string())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        app.payment_now(&id.to_string()).await["gatewayReference"],
        reference.as_str()
    );
    assert_eq!(restarted.gateway.as_simulated().unwrap().charges_made(), 0);
}

#[sqlx::test(migrations = false)]
async fn the_reconciler_exports_what_it_settled_and_the_age_of_the_oldest_pending_item(
    pool: PgPool,
) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let failed = app
        .charge_for(buyer, Uuid::now_v7(), "15.00", "tok_gatewayError")
        .await;
    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);

    // Younger than the window: left alone, but its age is visible.
    app.age_pending(Duration::from_secs(30)).await;
    app.reconcile().await;
    let metrics = app.metrics().await;
    let age: f64 = metric(
        &metrics,
        "payment_oldest_pending_age_seconds{kind=\"charge\"}",
    )
    .parse()
    .unwrap();
    assert!((30.0..60.0).contains(&age), "{age}");
    assert_eq!(
        metric(
            &metrics,
            "payment_oldest_pending_age_seconds{kind=\"refund\"}"
        ),
        "0"
    );

    app.age_pending(Duration::from_secs(60)).await;
    app.reconcile().await;
    let metrics = app.metrics().await;
    assert_eq!(
        metric(
            &metrics,
            "payment_reconciled_total{kind=\"charge\",outcome=\"not_found\"}"
        ),
        "1"
    );
    assert_eq!(
        metric(
            &metrics,
            "payment_oldest_pending_age_seconds{kind=\"charge\"}"
        ),
        "0"
    );
}

#[sqlx::test(migrations = false)]
async fn a_live_retry_after_the_reconcilers_claim_wins_over_it(pool: PgPool) {
    // Slow enough to act between the retry's stamp and its answer.
    let app = TestApp::spawn_with(pool, &[("SIMULATED_GATEWAY_LATENCY_MS", "600")]).await;
    let (_, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    let key = new_key();
    let mut body = charge_body(order, "70.00", "tok_gatewayErrorOnce");
    body["userId"] = json!(buyer);
    let failed = app.charge(&app.service_token, Some(&key), &body).await;
    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    let (payment, _) = app.payments_of_order(order).await.remove(0);

    // A reconciler claims it...
    app.age_pending(LATER).await;
    let lease = Uuid::now_v7();
    let claimed = payments::claim_pending(&app.pool, "simulated", LATER / 2, 10, lease)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // ...its client retries, and is at the gateway (which has not seen the key yet)...
    let retry = app.charge(&app.service_token, Some(&key), &body);
    let stale_settle = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        // ...when the reconciler, told "never seen", settles with its claim.
        let mut conn = app.pool.acquire().await.unwrap();
        payments::settle(
            &mut conn,
            payment,
            PaymentStatus::Failed,
            None,
            Some(NOT_AT_GATEWAY),
            Some(lease),
        )
        .await
        .unwrap()
    };
    let (retried, stale) = tokio::join!(retry, stale_settle);
    assert!(stale.is_none(), "the retry's attempt voided the claim");
    assert_eq!(retried.status(), StatusCode::CREATED);
    let retried: Value = retried.json().await.unwrap();
    assert_eq!(retried["status"], "SUCCESS");
    assert_eq!(app.gateway().charges_made(), 1);
}
