//! Service tokens may do only what the contract has their service call: catalog pushes
//! inventories; order-service holds seats for buyers, reads and releases their holds, sells and
//! returns. Every other service's token is refused.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use test_support::assert_scoped;
use uuid::Uuid;

use crate::helpers::{TestApp, inventory};

#[sqlx::test(migrations = false)]
async fn each_service_token_does_exactly_what_the_contract_has_it_call(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(20).await;
    let mut free = seats.iter().copied();
    for (client, token) in app.users.service_tokens().await {
        let (catalog, order) = (client == "catalog-service", client == "order-service");
        let check = |operation, status, permitted, allowed| {
            assert_scoped(
                client,
                operation,
                status,
                permitted,
                allowed,
                StatusCode::FORBIDDEN,
            );
        };

        let pushed = app
            .put_inventory(event, &inventory(&seats, "10.00"), &token)
            .await;
        check("PUT inventory", pushed.status(), catalog, StatusCode::OK);

        let seat = free.next().unwrap();
        let reserved = app
            .reserve_as(&token, event, &[seat], Uuid::now_v7(), None)
            .await;
        check(
            "reserve for a buyer",
            reserved.status(),
            order,
            StatusCode::CREATED,
        );

        // A buyer's hold: another service neither sees nor releases it (404, as for anyone
        // who may not see it).
        let hold = app.held(event, &[free.next().unwrap()], None).await;
        let read = app.get(&format!("/v1/holds/{hold}"), Some(&token)).await;
        let hidden = |operation, status, allowed| {
            assert_scoped(
                client,
                operation,
                status,
                order,
                allowed,
                StatusCode::NOT_FOUND,
            );
        };
        hidden("GET hold", read.status(), StatusCode::OK);

        let sold_seat = free.next().unwrap();
        let sold = app.held(event, &[sold_seat], None).await;
        let order_id = Uuid::now_v7();
        let allocated = app
            .post(
                "/v1/seats/allocate",
                &json!({"holdId": sold, "orderId": order_id}),
                &token,
            )
            .await;
        check("allocate", allocated.status(), order, StatusCode::OK);

        let released = app
            .post("/v1/seats/release", &json!({"holdId": hold}), &token)
            .await;
        hidden("release", released.status(), StatusCode::OK);

        assert_eq!(app.allocate(sold, order_id).await.status(), StatusCode::OK);
        let returned = app
            .post(
                "/v1/seats/return",
                &json!({"eventId": event, "seatIds": [sold_seat], "orderId": order_id}),
                &token,
            )
            .await;
        check("return", returned.status(), order, StatusCode::OK);
    }
}
