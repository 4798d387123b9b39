//! Who sees which notifications; who may send messages and which are acted on; where mail goes
//! without an SMTP server; and the fleet's way in (order-service's outbox relay).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use service_kit::auth::service_token::ServiceTokenSource;
use service_kit::fleet::{self, consumers_of};
use service_kit::messages::outbox::{self, OutboxMetrics, Relay, RelayPolicy};
use service_kit::messages::payloads::{EventCancelled, OrderConfirmed, OrderRefunded};
use service_kit::messages::{Envelope, Message, types};
use service_kit::metrics::Metrics;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{
    Harness, PATIENCE, StatusCode, assert_problem, envelope, json, metric, notice, parse,
};
use crate::smtp::SmtpSink;

#[sqlx::test(migrations = false)]
async fn a_user_sees_their_own_notifications_and_nothing_of_anyone_elses(pool: PgPool) {
    let smtp = SmtpSink::start().await;
    let harness = Harness::new(pool).await;
    let app = harness.app(Some(&smtp.url()), &[]).await;
    let (ada, bob) = (harness.buyer().await, harness.buyer().await);
    let admin = harness.users.account("admin").await;
    let ada_order = notice(&ada, "Ada", "Jazz Night", 1);
    let bob_order = notice(&bob, "Bob", "Jazz Night", 1);
    for message in [
        envelope(&OrderConfirmed(ada_order.clone())),
        envelope(&OrderRefunded(ada_order.clone())),
        envelope(&OrderConfirmed(bob_order.clone())),
    ] {
        assert_eq!(harness.deliver(&app, &message).await, StatusCode::ACCEPTED);
    }

    let mine = json(
        harness
            .get(&app, "/v1/notifications", Some(&ada.token))
            .await,
    )
    .await;
    assert_eq!(mine["total"], 2);
    assert_eq!(
        (mine["page"].as_i64(), mine["limit"].as_i64()),
        (Some(1), Some(20))
    );
    let items = mine["items"].as_array().unwrap();
    assert!(items.iter().all(|n| n["userId"] == ada.id.to_string()));
    // Newest first.
    assert_eq!(items[0]["type"], "order.refunded");
    assert_eq!(items[1]["type"], "order.confirmed");
    let paged = json(
        harness
            .get(&app, "/v1/notifications?page=2&limit=1", Some(&ada.token))
            .await,
    )
    .await;
    assert_eq!(
        (paged["total"].as_i64(), paged["items"][0]["type"].as_str()),
        (Some(2), Some("order.confirmed"))
    );

    // Bob's notifications, asked for every way a user can: nothing.
    let by_user = format!("/v1/notifications?userId={}", bob.id);
    assert_problem(
        harness.get(&app, &by_user, Some(&ada.token)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    let by_order = format!("/v1/notifications?orderId={}", bob_order.order_id);
    let foreign = json(harness.get(&app, &by_order, Some(&ada.token)).await).await;
    assert_eq!(foreign["total"], 0);
    assert_eq!(foreign["items"], serde_json::json!([]));
    let bob_id = harness.rows_of(bob_order.order_id).await[0].0;
    let one = format!("/v1/notifications/{bob_id}");
    assert_problem(
        harness.get(&app, &one, Some(&ada.token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        harness.get(&app, &one, Some(&bob.token)).await.status(),
        StatusCode::OK
    );

    // Admins see anyone's, filtered. No service of the fleet reads notifications, so none has
    // the `notifications:read` scope: order-service's token sees nobody's.
    let for_admin = json(harness.get(&app, &by_user, Some(&admin.token)).await).await;
    assert_eq!(for_admin["total"], 1);
    let by_admin = json(harness.get(&app, &by_order, Some(&admin.token)).await).await;
    assert_eq!(by_admin["total"], 1);
    assert_problem(
        harness.get(&app, &by_order, Some(&harness.service)).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_problem(
        harness.get(&app, &one, Some(&harness.service)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let everyone = json(
        harness
            .get(&app, "/v1/notifications", Some(&admin.token))
            .await,
    )
    .await;
    assert_eq!(everyone["total"], 3);
    assert_eq!(
        harness.get(&app, &one, Some(&admin.token)).await.status(),
        StatusCode::OK
    );

    assert_problem(
        harness.get(&app, "/v1/notifications", None).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_problem(
        harness
            .get(&app, "/v1/notifications?limit=101", Some(&ada.token))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_problem(
        harness
            .get(&app, "/v1/notifications/not-a-uuid", Some(&ada.token))
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    let unknown = format!("/v1/notifications/{}", Uuid::now_v7());
    assert_problem(
        harness.get(&app, &unknown, Some(&admin.token)).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn only_services_send_messages_and_types_other_than_orders_are_accepted_and_ignored(
    pool: PgPool,
) {
    let smtp = SmtpSink::start().await;
    let harness = Harness::new(pool).await;
    let app = harness.app(Some(&smtp.url()), &[]).await;
    let buyer = harness.buyer().await;
    let order = notice(&buyer, "Ada", "Jazz Night", 1);
    let message = envelope(&OrderConfirmed(order.clone()));
    let post = |token: Option<String>, body: &Envelope| {
        let mut request = harness
            .http
            .post(format!("{}/v1/messages", app.url))
            .json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_problem(
        post(None, &message).await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_problem(
        post(Some(buyer.token.clone()), &message).await.unwrap(),
        StatusCode::FORBIDDEN,
    )
    .await;

    // A service cannot send what another produces, nor as another.
    let mut from_catalog = envelope(&EventCancelled {
        event_id: Uuid::now_v7(),
        reason: "storm".into(),
    });
    from_catalog.source = "catalog-service".into();
    assert_eq!(
        harness.deliver(&app, &from_catalog).await,
        StatusCode::FORBIDDEN
    );
    let catalog = harness.users.service_token("catalog-service").await;
    assert_eq!(
        harness.deliver_as(&app, &catalog, &message).await,
        StatusCode::FORBIDDEN
    );

    // event.cancelled reaches buyers as order-service's per-order messages; alone (from its
    // producer) it is accepted and does nothing, like any type this service does not act on.
    assert_eq!(
        harness.deliver_as(&app, &catalog, &from_catalog).await,
        StatusCode::ACCEPTED
    );
    let mut other = envelope(&EventCancelled {
        event_id: Uuid::now_v7(),
        reason: "x".into(),
    });
    other.message_type = "seating.sold_out".into();
    other.source = "seating-service".into();
    let seating = harness.users.service_token("seating-service").await;
    assert_eq!(
        harness.deliver_as(&app, &seating, &other).await,
        StatusCode::ACCEPTED
    );

    // A notice of the wrong shape is refused and not recorded: the producer's next delivery
    // of the same id (fixed) is handled.
    let mut broken = message.clone();
    broken.data["email"] = serde_json::json!(42);
    assert_problem(
        post(Some(harness.service.clone()), &broken).await.unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(harness.deliver(&app, &message).await, StatusCode::ACCEPTED);
    assert_eq!(smtp.wait_for(1, PATIENCE).await.len(), 1);

    // An address that is none is written down FAILED, not refused (the producer would retry
    // it for a day) and not sent.
    let mut nowhere = notice(&buyer, "Ada", "Jazz Night", 1);
    nowhere.email = "not-an-address".into();
    assert_eq!(
        harness
            .deliver(&app, &envelope(&OrderConfirmed(nowhere.clone())))
            .await,
        StatusCode::ACCEPTED
    );
    let rows = harness.rows_of(nowhere.order_id).await;
    assert_eq!(rows[0].1, "FAILED");
    assert!(rows[0].3.as_ref().unwrap().contains("not-an-address"));

    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications")
        .fetch_one(&harness.pool)
        .await
        .unwrap();
    assert_eq!(total, 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 1);
}

#[sqlx::test(migrations = false)]
async fn without_smtp_url_the_email_is_written_as_an_eml_file_into_mail_dir(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("notification-mail-{}", Uuid::now_v7()));
    let harness = Harness::new(pool).await;
    let app = harness
        .app(None, &[("MAIL_DIR", dir.to_str().unwrap())])
        .await;
    let buyer = harness.buyer().await;
    let order = notice(&buyer, "Ada", "Jazz Night", 2);
    assert_eq!(
        harness
            .deliver(&app, &envelope(&OrderConfirmed(order.clone())))
            .await,
        StatusCode::ACCEPTED
    );
    harness
        .wait_for_row(order.order_id, |(_, status, ..)| status == "SENT")
        .await;
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().unwrap(), "eml");
    let email = parse(&crate::smtp::Received {
        from: String::new(),
        to: Vec::new(),
        data: std::fs::read(&files[0]).unwrap(),
    });
    assert_eq!(email.subject, "Your tickets for Jazz Night");
    assert_eq!(email.images.len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();

    // The gauges an alert watches.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while metric(&app.metrics, "notifications_pending") != Some(0.0) {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        metric(&app.metrics, "notifications_oldest_pending_age_seconds"),
        Some(0.0)
    );
}

#[sqlx::test(migrations = false)]
async fn an_order_confirmed_written_to_order_services_outbox_reaches_the_buyer(pool: PgPool) {
    // The fleet's map sends every order.* message here.
    for t in [
        types::ORDER_CONFIRMED,
        types::ORDER_CANCELLED,
        types::ORDER_EXPIRED,
        types::ORDER_REFUNDED,
    ] {
        assert_eq!(consumers_of(t), [fleet::Service::Notification]);
    }
    let smtp = SmtpSink::start().await;
    let harness = Harness::new(pool.clone()).await;
    let app = harness.app(Some(&smtp.url()), &[]).await;
    let buyer = harness.buyer().await;
    let order = notice(&buyer, "Ada", "Jazz Night", 1);

    // order-service's side, as it is in production: the outbox tables (schema `orders`),
    // enqueue in a transaction, and the kit's relay with order-service's service token.
    let orders = test_support::schema_pool(&pool, "orders").await;
    service_kit::db::KIT_MIGRATIONS.run(&orders).await.unwrap();
    let mut tx = orders.begin().await.unwrap();
    let id = outbox::enqueue(&mut tx, "order-service", &OrderConfirmed(order.clone()))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tokens = ServiceTokenSource::new(
        reqwest::Client::new(),
        &harness.users.url,
        "order-service".into(),
        SecretString::from(service_kit::config::development_client_secret(
            "order-service",
        )),
    );
    let relay = Relay::new(
        orders.clone(),
        Some(Arc::new(tokens)),
        HashMap::from([(fleet::Service::Notification, app.url.clone())]),
        OutboxMetrics::register(&Metrics::new("order-service")),
        RelayPolicy::default(),
    );
    assert_eq!(relay.deliver_batch().await.unwrap(), 1);
    let delivered: bool = sqlx::query_scalar(
        "SELECT delivered_at IS NOT NULL FROM outbox_deliveries WHERE message_id = $1",
    )
    .bind(id)
    .fetch_one(&orders)
    .await
    .unwrap();
    assert!(delivered);

    let received = smtp.wait_for(1, PATIENCE).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, vec![buyer.email.clone()]);
    assert_eq!(OrderConfirmed::TYPE, "order.confirmed");
}

#[sqlx::test(migrations = false)]
async fn the_openapi_document_passes_the_kits_audit(pool: PgPool) {
    let harness = Harness::new(pool).await;
    let app = harness.app(None, &[]).await;
    test_support::assert_openapi_truthful(&app.url).await;
}
