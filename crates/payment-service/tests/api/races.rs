//! Exactly once under fire: many clients at once, then the gateway and the database are checked.

use std::collections::HashSet;

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_code, charge_body, new_key};

#[sqlx::test(migrations = false)]
async fn fifty_concurrent_charges_with_one_key_charge_the_card_once(pool: PgPool) {
    // A little gateway latency keeps the first request in flight while the others arrive.
    let app = TestApp::spawn_with(pool, &[("SIMULATED_GATEWAY_LATENCY_MS", "50")]).await;
    let (token, _) = app.buyer().await;
    let key = new_key();
    let order = Uuid::now_v7();
    let body = charge_body(order, "120.00", "tok_visa");
    let attempts = (0..50).map(|_| {
        let (app, token, key, body) = (&app, &token, &key, &body);
        async move {
            let response = app.charge_for_buyer(token, Some(key.as_str()), body).await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    });
    let outcomes = futures::future::join_all(attempts).await;

    let mut ids = HashSet::new();
    for (status, body) in &outcomes {
        match *status {
            StatusCode::CREATED => {
                assert_eq!(body["status"], "SUCCESS");
                ids.insert(body["id"].as_str().unwrap().to_owned());
            }
            StatusCode::CONFLICT => assert_code(body, "idempotency-in-flight"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ids.len(), 1, "every 201 names the same payment");
    assert_eq!(app.gateway().charges_made(), 1);
    assert_eq!(app.payments_of_order(order).await.len(), 1);
}

#[sqlx::test(migrations = false)]
async fn fifty_concurrent_charges_with_different_keys_for_one_order_succeed_once(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("SIMULATED_GATEWAY_LATENCY_MS", "20")]).await;
    let (_, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    let attempts = (0..50).map(|_| {
        let app = &app;
        async move {
            let response = app.charge_for(buyer, order, "80.00", "tok_visa").await;
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    });
    let outcomes = futures::future::join_all(attempts).await;

    let created = outcomes
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1);
    for (status, body) in &outcomes {
        if *status != StatusCode::CREATED {
            assert_eq!(*status, StatusCode::CONFLICT, "{body}");
            assert_code(body, "order-already-paid");
        }
    }
    assert_eq!(app.gateway().charges_made(), 1);
    let stored = app.payments_of_order(order).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, "SUCCESS");
}
