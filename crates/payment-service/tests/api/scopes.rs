//! Only order-service's token charges, refunds and reads anyone's payments: the contract has no
//! other service call payment-service.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use test_support::assert_scoped;
use uuid::Uuid;

use crate::helpers::{TestApp, charge_body, new_key};

#[sqlx::test(migrations = false)]
async fn only_order_services_token_charges_refunds_and_reads_payments(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (_, buyer) = app.buyer().await;
    for (client, token) in app.users.service_tokens().await {
        let order = client == "order-service";
        let check = |operation, status, allowed, refused| {
            assert_scoped(client, operation, status, order, allowed, refused);
        };

        let mut body = charge_body(Uuid::now_v7(), "12.00", "tok_visa");
        body["userId"] = json!(buyer);
        let charged = app.charge(&token, Some(&new_key()), &body).await;
        check(
            "charge",
            charged.status(),
            StatusCode::CREATED,
            StatusCode::FORBIDDEN,
        );

        let payment = app.paid(buyer, "20.00").await;
        let id = payment["id"].as_str().unwrap();
        let read = app.payment(&token, id).await;
        check(
            "GET payment",
            read.status(),
            StatusCode::OK,
            StatusCode::NOT_FOUND,
        );
        let listed = app
            .payments(
                &token,
                &format!("orderId={}", payment["orderId"].as_str().unwrap()),
            )
            .await;
        check(
            "GET payments",
            listed.status(),
            StatusCode::OK,
            StatusCode::FORBIDDEN,
        );

        let refunded = app
            .refund(
                &token,
                id,
                &new_key(),
                &json!({"reason": "requested_by_customer"}),
            )
            .await;
        check(
            "refund",
            refunded.status(),
            StatusCode::OK,
            StatusCode::FORBIDDEN,
        );
    }
}
