//! Placing and paying orders: prices from seating, totals with tax, idempotency, races,
//! declines, expiry, and a charge that came too late.

use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{Fleet, StatusCode, assert_problem, id_of, new_key};

#[sqlx::test(migrations = false)]
async fn an_order_holds_the_seats_at_seatings_prices_with_tax_rounded_half_up(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.10").await;
    let buyer = fleet.buyer().await;
    let order = fleet.pending(&buyer, event.id, &event.seats[..1]).await;
    assert_eq!(order["status"], "PENDING_PAYMENT");
    assert_eq!(order["userId"], buyer.id.to_string());
    assert_eq!(order["subtotal"], "10.10");
    assert_eq!(
        order["tax"], "0.51",
        "5 % of 10.10 is 0.505, rounded half-up"
    );
    assert_eq!(order["total"], "10.61");
    assert_eq!(order["currency"], "EUR");
    assert_eq!(order["items"][0]["price"], "10.10");
    assert!(order["holdId"].is_string() && order["holdExpiresAt"].is_string());
    assert!(order["paymentId"].is_null());
    assert_eq!(order["tickets"], serde_json::json!([]));
    assert_eq!(
        fleet.seat_statuses(event.id, &event.seats[..1]).await,
        ["HELD"]
    );

    let two = fleet.pending(&buyer, event.id, &event.seats[1..3]).await;
    assert_eq!(two["subtotal"], "20.20");
    assert_eq!(two["tax"], "1.01");
    assert_eq!(two["total"], "21.21");
}

#[sqlx::test(migrations = false)]
async fn paying_confirms_the_order_with_one_ticket_per_seat_sold_and_announced(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(6, "50.00").await;
    let buyer = fleet.buyer().await;
    let seats = &event.seats[..2];
    let order = fleet.pending(&buyer, event.id, seats).await;
    let key = new_key();
    let paid = fleet.pay_with_key(&buyer, &order, "tok_visa", &key).await;
    assert_eq!(paid.status(), StatusCode::OK);
    let paid: Value = paid.json().await.unwrap();
    assert_eq!(paid["status"], "CONFIRMED");
    assert!(paid["paymentId"].is_string());
    let tickets = paid["tickets"].as_array().unwrap();
    assert_eq!(tickets.len(), 2);
    for ticket in tickets {
        assert_eq!(ticket["status"], "VALID");
        assert_eq!(ticket["code"].as_str().unwrap().len(), 22);
        assert_eq!(ticket["qrPayload"].as_str().unwrap().split('.').count(), 3);
    }
    assert_eq!(fleet.seat_statuses(event.id, seats).await, ["SOLD", "SOLD"]);
    assert_eq!(
        fleet.payments_of(&order).await,
        [("SUCCESS".into(), "105.00".into(), "0.00".into())]
    );
    assert_eq!(fleet.gateway().charges_made(), 1);
    assert_eq!(fleet.outbox_types().await, ["order.confirmed"]);

    // The same key replays; nothing is charged again.
    let again = fleet.pay_with_key(&buyer, &order, "tok_visa", &key).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), paid);
    // Another key finds nothing to pay.
    let other = fleet.pay(&buyer, &order, "tok_visa").await;
    let problem = assert_problem(other, StatusCode::CONFLICT).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("order-not-payable")
    );
    assert_eq!(fleet.gateway().charges_made(), 1);

    // The receipt reaches the e-mail service with everything it needs.
    fleet.deliver().await;
    let messages = fleet.inbox.messages();
    assert_eq!(fleet.inbox.types(), ["order.confirmed"]);
    let data = &messages[0]["data"];
    assert_eq!(data["orderId"], order["id"]);
    assert_eq!(data["eventTitle"], "Fado <Night> & Friends");
    assert_eq!(data["total"], "105.00");
    assert_eq!(data["venue"]["city"], "Lisbon");
    assert_eq!(data["tickets"].as_array().unwrap().len(), 2);
    assert!(data["email"].as_str().unwrap().contains('@'));
}

#[sqlx::test(migrations = false)]
async fn an_order_paid_in_the_same_call_is_created_confirmed(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "30.00").await;
    let buyer = fleet.buyer().await;
    let response = fleet
        .order(&buyer, event.id, &event.seats[..2], Some("tok_mastercard"))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let order: Value = response.json().await.unwrap();
    assert_eq!(order["status"], "CONFIRMED");
    assert_eq!(order["total"], "63.00");
    assert_eq!(order["tickets"].as_array().unwrap().len(), 2);
}

#[sqlx::test(migrations = false)]
async fn the_same_key_replays_the_order_and_another_body_is_422(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let key = new_key();
    let first = fleet
        .order_with_key(&buyer, &key, event.id, &event.seats[..1], None)
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let again = fleet
        .order_with_key(&buyer, &key, event.id, &event.seats[..1], None)
        .await;
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
    let other = fleet
        .order_with_key(&buyer, &key, event.id, &event.seats[1..2], None)
        .await;
    assert_problem(other, StatusCode::UNPROCESSABLE_ENTITY).await;
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(orders, 1);
}

#[sqlx::test(migrations = false)]
async fn concurrent_requests_with_one_key_make_one_order(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let key = new_key();
    let attempts =
        (0..8).map(|_| fleet.order_with_key(&buyer, &key, event.id, &event.seats[..2], None));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    assert!(statuses.contains(&StatusCode::CREATED), "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(orders, 1);
}

#[sqlx::test(migrations = false)]
async fn of_two_buyers_racing_for_the_same_seats_one_wins_and_the_other_is_told_which(
    pool: PgPool,
) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let (alice, bob) = (fleet.buyer().await, fleet.buyer().await);
    let seats = &event.seats[..2];
    let (a, b) = tokio::join!(
        fleet.order(&alice, event.id, seats, None),
        fleet.order(&bob, event.id, seats, None)
    );
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::CREATED, StatusCode::CONFLICT]);
    let loser = if a.status() == StatusCode::CONFLICT {
        a
    } else {
        b
    };
    let problem = assert_problem(loser, StatusCode::CONFLICT).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("seats-unavailable")
    );
    assert!(!problem["conflicts"].as_array().unwrap().is_empty());
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&fleet.pool)
        .await
        .unwrap();
    assert_eq!(orders, 1, "the loser's order is not kept");
}

#[sqlx::test(migrations = false)]
async fn a_declined_card_fails_the_order_and_releases_its_seats(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let seats = &event.seats[..2];
    let order = fleet.pending(&buyer, event.id, seats).await;
    let response = fleet.pay(&buyer, &order, "tok_chargeDeclined").await;
    let problem = assert_problem(response, StatusCode::PAYMENT_REQUIRED).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("payment-declined")
    );
    assert_eq!(problem["order"]["status"], "PAYMENT_FAILED");
    assert_eq!(
        fleet.seat_statuses(event.id, seats).await,
        ["AVAILABLE", "AVAILABLE"]
    );
    let now = fleet.order_json(&buyer.token, &order).await;
    assert_eq!(now["status"], "PAYMENT_FAILED");
    assert_eq!(fleet.payments_of(&order).await[0].0, "FAILED");
    // The seats can be ordered again, and paid with another card.
    let retry = fleet.confirmed(&buyer, event.id, seats).await;
    assert_eq!(retry["status"], "CONFIRMED");
}

#[sqlx::test(migrations = false)]
async fn an_order_for_an_event_not_on_sale_is_409_and_bad_requests_are_refused(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    fleet.cancel_event(event.id).await;
    let cancelled = fleet.order(&buyer, event.id, &event.seats[..1], None).await;
    let problem = assert_problem(cancelled, StatusCode::CONFLICT).await;
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("event-not-on-sale")
    );

    let unknown = fleet
        .order(&buyer, uuid::Uuid::now_v7(), &event.seats[..1], None)
        .await;
    assert_problem(unknown, StatusCode::UNPROCESSABLE_ENTITY).await;
    let eleven: Vec<uuid::Uuid> = (0..11).map(|_| uuid::Uuid::now_v7()).collect();
    let too_many = fleet.order(&buyer, event.id, &eleven, None).await;
    assert_problem(too_many, StatusCode::UNPROCESSABLE_ENTITY).await;
    let no_key = fleet
        .call(
            reqwest::Method::POST,
            format!("{}/v1/orders", fleet.orders),
            Some(&buyer.token),
            None,
            Some(&serde_json::json!({"eventId": event.id, "seatIds": [event.seats[0]]})),
        )
        .await;
    assert_problem(no_key, StatusCode::BAD_REQUEST).await;
    let anonymous = fleet
        .call(
            reqwest::Method::POST,
            format!("{}/v1/orders", fleet.orders),
            None,
            Some(&new_key()),
            Some(&serde_json::json!({"eventId": event.id, "seatIds": [event.seats[0]]})),
        )
        .await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;
}

#[sqlx::test(migrations = false)]
async fn another_buyers_order_is_404_and_lists_show_only_ones_own(pool: PgPool) {
    let fleet = Fleet::start(pool).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let (alice, bob) = (fleet.buyer().await, fleet.buyer().await);
    let order = fleet.pending(&alice, event.id, &event.seats[..1]).await;
    let path = format!("/v1/orders/{}", order["id"].as_str().unwrap());
    assert_problem(
        fleet.get(&path, Some(&bob.token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        fleet.pay(&bob, &order, "tok_visa").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_problem(
        fleet.cancel(&bob.token, &order).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        fleet.get(&path, Some(&fleet.admin)).await.status(),
        StatusCode::OK
    );

    let mine: Value = fleet
        .get("/v1/orders", Some(&alice.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["id"], order["id"]);
    let theirs: Value = fleet
        .get("/v1/orders", Some(&bob.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(theirs["total"], 0);
    let snooping = fleet
        .get(&format!("/v1/orders?userId={}", alice.id), Some(&bob.token))
        .await;
    assert_problem(snooping, StatusCode::FORBIDDEN).await;
    let by_admin: Value = fleet
        .get(
            &format!("/v1/orders?eventId={}", event.id),
            Some(&fleet.admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_admin["total"], 1);

    // No service calls order-service for orders, so no service token reads them.
    for (client, token) in fleet.users.service_tokens().await {
        assert_problem(fleet.get(&path, Some(&token)).await, StatusCode::NOT_FOUND).await;
        let listed = fleet
            .get(&format!("/v1/orders?eventId={}", event.id), Some(&token))
            .await;
        assert_eq!(listed.status(), StatusCode::FORBIDDEN, "{client}");
    }
}

#[sqlx::test(migrations = false)]
async fn an_unpaid_order_expires_with_its_hold_and_cannot_be_paid(pool: PgPool) {
    let fleet = Fleet::start_with(pool, &[("HOLD_TTL_SECONDS", "1")]).await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let order = fleet.pending(&buyer, event.id, &event.seats[..1]).await;
    let unswept = fleet.pending(&buyer, event.id, &event.seats[1..2]).await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    let response = fleet.pay(&buyer, &order, "tok_visa").await;
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert!(problem["type"].as_str().unwrap().ends_with("hold-expired"));
    assert_eq!(
        fleet.order_json(&buyer.token, &order).await["status"],
        "EXPIRED"
    );
    assert_eq!(
        fleet.gateway().charges_made(),
        0,
        "no charge for an expired hold"
    );

    // The sweeper expires the other one and tells the buyer.
    fleet.run_workers().await;
    assert_eq!(
        fleet.order_json(&buyer.token, &unswept).await["status"],
        "EXPIRED"
    );
    assert_eq!(
        fleet.outbox_types().await,
        ["order.expired", "order.expired"]
    );
}

#[sqlx::test(migrations = false)]
async fn a_charge_that_succeeds_after_the_hold_expired_is_refunded(pool: PgPool) {
    // The gateway takes longer than the hold lasts: the charge succeeds, the allocation finds
    // the hold expired, and the money goes back.
    let fleet = Fleet::start_with(
        pool,
        &[
            ("HOLD_TTL_SECONDS", "1"),
            ("SIMULATED_GATEWAY_LATENCY_MS", "1500"),
        ],
    )
    .await;
    let event = fleet.event_on_sale(4, "10.00").await;
    let buyer = fleet.buyer().await;
    let order = fleet.pending(&buyer, event.id, &event.seats[..2]).await;
    let response = fleet.pay(&buyer, &order, "tok_visa").await;
    let problem = assert_problem(response, StatusCode::CONFLICT).await;
    assert!(problem["detail"].as_str().unwrap().contains("refunded"));
    let now = fleet.order_json(&buyer.token, &order).await;
    assert_eq!(now["status"], "EXPIRED");
    assert_eq!(
        fleet.payments_of(&order).await,
        [("REFUNDED".into(), "21.00".into(), "21.00".into())]
    );
    assert_eq!(fleet.gateway().refunds_made(), 1);
    assert_eq!(
        fleet.seat_statuses(event.id, &event.seats[..2]).await,
        ["AVAILABLE", "AVAILABLE"]
    );
    assert_eq!(fleet.outbox_types().await, ["order.expired"]);
    let _ = id_of(&order);
}

/// One buyer holds at most MAX_HELD_SEATS_PER_HOLDER seats of an event through unpaid orders
/// (seating counts them; its refusal is passed on), and places new orders at a bounded rate.
#[sqlx::test(migrations = false)]
async fn a_buyer_cannot_hold_an_on_sale_through_unpaid_orders_nor_flood_it(pool: PgPool) {
    let fleet = Fleet::start_with(
        pool,
        &[
            ("MAX_HELD_SEATS_PER_HOLDER", "4"),
            ("ORDERS_PER_USER_PER_MINUTE", "6"),
            ("ORDERS_PER_USER_BURST", "3"),
        ],
    )
    .await;
    let event = fleet.event_on_sale(12, "10.00").await;
    let bot = fleet.buyer().await;
    let first = fleet.pending(&bot, event.id, &event.seats[..3]).await;
    let refused = fleet.order(&bot, event.id, &event.seats[3..5], None).await;
    let body = assert_problem(refused, StatusCode::CONFLICT).await;
    assert!(
        body["type"]
            .as_str()
            .unwrap()
            .ends_with("hold-limit-reached"),
        "{body}"
    );
    assert_eq!(
        (body["limit"].as_i64(), body["held"].as_i64()),
        (Some(4), Some(3))
    );
    // Nothing was left behind for the refused order, and its seats are free.
    assert_eq!(
        fleet.seat_statuses(event.id, &event.seats[3..5]).await,
        ["AVAILABLE", "AVAILABLE"]
    );
    // Cancelling the unpaid order gives the buyer their share back.
    assert_eq!(
        fleet.cancel(&bot.token, &first).await.status(),
        StatusCode::OK
    );
    fleet.pending(&bot, event.id, &event.seats[3..5]).await;
    // That was the third new order of the burst (3): the next one waits.
    let throttled = fleet.order(&bot, event.id, &event.seats[5..6], None).await;
    assert_eq!(throttled.headers()["retry-after"], "10");
    assert_problem(throttled, StatusCode::TOO_MANY_REQUESTS).await;
    // Another buyer is not slowed down.
    let other = fleet.buyer().await;
    fleet.pending(&other, event.id, &event.seats[6..8]).await;
}

#[sqlx::test(migrations = false)]
async fn two_expiry_workers_at_once_expire_each_unpaid_order_once(pool: PgPool) {
    // Two replicas' expiry rounds over the same unpaid orders.
    let fleet = Fleet::start_with(pool, &[("HOLD_TTL_SECONDS", "1")]).await;
    let event = fleet.event_on_sale(20, "10.00").await;
    let mut orders = Vec::new();
    for seats in event.seats.chunks(5) {
        let buyer = fleet.buyer().await;
        for seat in seats {
            let order = fleet
                .pending(&buyer, event.id, std::slice::from_ref(seat))
                .await;
            orders.push(order["id"].as_str().unwrap().to_owned());
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    let (a, b) = tokio::join!(
        order_service::workers::expire_due(&fleet.state),
        order_service::workers::expire_due(&fleet.state),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a + b,
        20,
        "each order expired by exactly one worker ({a} + {b})"
    );
    let types = fleet.outbox_types().await;
    assert_eq!(types.len(), 20, "one order.expired per order: {types:?}");
    assert!(types.iter().all(|t| t == "order.expired"));
}
