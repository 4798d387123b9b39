use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_problem, charge_body, new_key};

/// A payment `token`'s user made for a new order: its JSON.
async fn pay(app: &TestApp, token: &str, order: Uuid) -> Value {
    let response = app
        .charge_for_buyer(
            token,
            Some(&new_key()),
            &charge_body(order, "45.00", "tok_visa"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

fn ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrations = false)]
async fn a_payer_reads_their_payment_and_other_users_get_404(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (alice, _) = app.buyer().await;
    let (bob, _) = app.buyer().await;
    let payment = pay(&app, &alice, Uuid::now_v7()).await;
    let id = payment["id"].as_str().unwrap();

    let own = app.payment(&alice, id).await;
    assert_eq!(own.status(), StatusCode::OK);
    assert_eq!(own.json::<Value>().await.unwrap(), payment);

    let problem = assert_problem(app.payment(&bob, id).await, StatusCode::NOT_FOUND).await;
    // Exactly what an unknown id answers: nothing tells that the payment exists.
    let unknown = assert_problem(
        app.payment(&bob, &Uuid::now_v7().to_string()).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(problem, unknown);

    let admin = app.admin().await;
    assert_eq!(app.payment(&admin, id).await.status(), StatusCode::OK);
    assert_eq!(
        app.payment(&app.service_token, id).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn a_payer_lists_only_their_own_payments(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (alice, _) = app.buyer().await;
    let (bob, _) = app.buyer().await;
    let order = Uuid::now_v7();
    let alices = pay(&app, &alice, order).await;
    let bobs = pay(&app, &bob, Uuid::now_v7()).await;

    let list: Value = app.payments(&bob, "").await.json().await.unwrap();
    assert_eq!(ids(&list), [bobs["id"].as_str().unwrap()]);
    assert_eq!(list["total"], 1);
    // Asking for Alice's order does not show Alice's payment either.
    let list: Value = app
        .payments(&bob, &format!("orderId={order}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(ids(&list).is_empty());

    let list: Value = app
        .payments(&app.service_token, &format!("orderId={order}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ids(&list), [alices["id"].as_str().unwrap()]);
}

#[sqlx::test(migrations = false)]
async fn the_list_of_an_order_shows_failed_attempts_too_newest_first(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    let order = Uuid::now_v7();
    let declined = app
        .charge_for(buyer, order, "45.00", "tok_chargeDeclined")
        .await;
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    let paid = app.charge_for(buyer, order, "45.00", "tok_visa").await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let list: Value = app
        .payments(&app.service_token, &format!("orderId={order}&limit=10"))
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["SUCCESS", "FAILED"]);
    assert_eq!(list["page"], 1);
    assert_eq!(list["limit"], 10);
    assert_eq!(list["total"], 2);
}

#[sqlx::test(migrations = false)]
async fn reads_need_a_token_and_well_formed_ids(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let anonymous = app
        .http
        .get(app.url(&format!("/v1/payments/{}", Uuid::now_v7())))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
    let malformed = app.payment(&app.service_token, "not-a-uuid").await;
    assert_problem(malformed, StatusCode::BAD_REQUEST).await;
    let bad_page = app.payments(&app.service_token, "limit=1000").await;
    assert_problem(bad_page, StatusCode::UNPROCESSABLE_ENTITY).await;
}
