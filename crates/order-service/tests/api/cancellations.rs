//! Undoing orders: cancelled while pending, refunded once confirmed, and every order of a
//! cancelled event, exactly once.

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{Fleet, StatusCode, assert_problem};

#[sqlx::test(migrations = false)]
async fn cancelling_a_pending_order_releases_its_seats(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let order = fleet.pending(&buyer, event.id, &event.seats[..2]).await;
    let response = fleet.cancel(&buyer.token, &order).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cancelled: Value = response.json().await.unwrap();
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(
        fleet.seat_statuses(event.id, &event.seats[..2]).await,
        ["AVAILABLE", "AVAILABLE"]
    );
    // Again: the same answer, nothing more happens.
    let again = fleet.cancel(&buyer.token, &order).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(fleet.outbox_types().await, ["order.cancelled"]);
    assert_eq!(fleet.gateway().charges_made(), 0);
}

#[sqlx::test(migrations = false)]
async fn cancelling_a_confirmed_order_refunds_it_voids_its_tickets_and_returns_its_seats(
    pool: PgPool,
) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let seats = &event.seats[..2];
    let order = fleet.confirmed(&buyer, event.id, seats).await;
    let response = fleet.cancel(&buyer.token, &order).await;
    assert_eq!(response.status(), StatusCode::OK);
    let refunded: Value = response.json().await.unwrap();
    assert_eq!(refunded["status"], "REFUNDED");
    for ticket in refunded["tickets"].as_array().unwrap() {
        assert_eq!(ticket["status"], "VOID");
    }
    assert_eq!(
        fleet.payments_of(&order).await,
        [("REFUNDED".into(), "21.00".into(), "21.00".into())]
    );
    assert_eq!(
        fleet.seat_statuses(event.id, seats).await,
        ["AVAILABLE", "AVAILABLE"]
    );
    assert_eq!(
        fleet.outbox_types().await,
        ["order.confirmed", "order.refunded"]
    );
    // The seats sell again, with new tickets.
    let again = fleet.confirmed(&fleet.buyer().await, event.id, seats).await;
    assert_eq!(again["status"], "CONFIRMED");
}

#[sqlx::test(migrations = false)]
async fn after_a_check_in_only_an_admin_may_refund(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let order = fleet.confirmed(&buyer, event.id, &event.seats[..2]).await;
    let code = order["tickets"][0]["code"].as_str().unwrap();
    let checked = fleet
        .call(
            reqwest::Method::POST,
            format!("{}/v1/tickets/{code}/check-in", fleet.orders),
            Some(&fleet.organizer),
            None,
            None,
        )
        .await;
    assert_eq!(checked.status(), StatusCode::OK);
    let refused = fleet.cancel(&buyer.token, &order).await;
    let problem = assert_problem(refused, StatusCode::CONFLICT).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("order-not-cancellable")
    );
    assert_eq!(
        fleet.order_json(&buyer.token, &order).await["tickets"][1]["status"],
        "VALID"
    );
    let by_admin = fleet.cancel(&fleet.admin, &order).await;
    assert_eq!(by_admin.status(), StatusCode::OK);
    assert_eq!(
        by_admin.json::<Value>().await.unwrap()["status"],
        "REFUNDED"
    );
}

#[sqlx::test(migrations = false)]
async fn a_cancelled_event_refunds_every_confirmed_order_and_cancels_every_pending_one_once(
    pool: PgPool,
) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(20, "10.00").await;
    let mut confirmed = Vec::new();
    for pair in event.seats[..10].chunks(2) {
        confirmed.push(fleet.confirmed(&fleet.buyer().await, event.id, pair).await);
    }
    let pending_buyer = fleet.buyer().await;
    let pending = fleet
        .pending(&pending_buyer, event.id, &event.seats[10..12])
        .await;
    fleet.cancel_event(event.id).await;
    // Delivered twice: the second is ignored by the inbox.
    let envelope: Value = sqlx::query_scalar("SELECT envelope FROM catalog.outbox LIMIT 1")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    let repeat = fleet
        .call(
            reqwest::Method::POST,
            format!("{}/v1/messages", fleet.orders),
            Some(&fleet.service_token_of("catalog-service").await),
            None,
            Some(&envelope),
        )
        .await;
    assert_eq!(repeat.status(), StatusCode::ACCEPTED);

    // Batches of 50 and 4 at a time (the helper's worker settings); twice, as after a restart.
    fleet.run_workers().await;
    fleet.run_workers().await;
    for order in &confirmed {
        let now = fleet.order_json(&fleet.admin, order).await;
        assert_eq!(now["status"], "REFUNDED");
        assert_eq!(
            fleet.payments_of(order).await,
            [("REFUNDED".into(), "21.00".into(), "21.00".into())]
        );
    }
    assert_eq!(
        fleet.order_json(&pending_buyer.token, &pending).await["status"],
        "CANCELLED"
    );
    assert_eq!(
        fleet.gateway().refunds_made(),
        5,
        "each order refunded exactly once"
    );
    let finished: bool = sqlx::query_scalar(
        "SELECT finished_at IS NOT NULL FROM event_cancellations WHERE event_id = $1",
    )
    .bind(event.id)
    .fetch_one(&fleet.pool)
    .await
    .unwrap();
    assert!(finished);
    let _ = json!({});
}

#[sqlx::test(migrations = false)]
async fn two_replicas_undoing_a_cancelled_event_at_once_refund_each_order_once(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(20, "10.00").await;
    let mut confirmed = Vec::new();
    for pair in event.seats[..10].chunks(2) {
        confirmed.push(fleet.confirmed(&fleet.buyer().await, event.id, pair).await);
    }
    let pending_buyer = fleet.buyer().await;
    let pending = fleet
        .pending(&pending_buyer, event.id, &event.seats[10..12])
        .await;
    fleet.cancel_event(event.id).await;

    // Two replicas' cancellation workers over the same event, small batches, at once.
    let (a, b) = tokio::join!(
        order_service::workers::undo_cancelled_events(&fleet.state, 2, 2),
        order_service::workers::undo_cancelled_events(&fleet.state, 2, 2),
    );
    a.unwrap();
    b.unwrap();
    for order in &confirmed {
        assert_eq!(
            fleet.order_json(&fleet.admin, order).await["status"],
            "REFUNDED"
        );
        assert_eq!(
            fleet.payments_of(order).await,
            [("REFUNDED".into(), "21.00".into(), "21.00".into())],
            "refunded once, in full"
        );
    }
    assert_eq!(
        fleet.order_json(&pending_buyer.token, &pending).await["status"],
        "CANCELLED"
    );
    assert_eq!(
        fleet.gateway().refunds_made(),
        5,
        "each order refunded exactly once"
    );
}
