//! Never lost, never twice: duplicates, an SMTP server that is down (across a restart too),
//! refusals for now and for good, and a send that hangs.

use std::time::Duration;

use service_kit::messages::payloads::{OrderConfirmed, OrderRefunded};
use sqlx::PgPool;

use crate::helpers::{Harness, PATIENCE, StatusCode, envelope, metric, notice, parse};
use crate::smtp::{Mode, SmtpSink, url_of};

/// Long enough for a wrongly repeated send to have happened.
const SETTLE: Duration = Duration::from_millis(500);

#[sqlx::test(migrations = false)]
async fn a_message_delivered_twice_makes_one_notification_and_one_email(pool: PgPool) {
    let smtp = SmtpSink::start().await;
    let harness = Harness::new(pool).await;
    let app = harness.app(Some(&smtp.url()), &[]).await;
    let buyer = harness.buyer().await;
    let order = notice(&buyer, "Ada", "Jazz Night", 2);
    let message = envelope(&OrderConfirmed(order.clone()));

    // The relay's retry after a lost answer, twice at once, and once more later.
    let (first, second) = tokio::join!(
        harness.deliver(&app, &message),
        harness.deliver(&app, &message)
    );
    assert_eq!(
        (first, second),
        (StatusCode::ACCEPTED, StatusCode::ACCEPTED)
    );
    assert_eq!(harness.deliver(&app, &message).await, StatusCode::ACCEPTED);
    // The same notice under another message id (a producer that wrote it twice): still one.
    let again = envelope(&OrderConfirmed(order.clone()));
    assert_eq!(harness.deliver(&app, &again).await, StatusCode::ACCEPTED);

    harness
        .wait_for_row(order.order_id, |(_, status, ..)| status == "SENT")
        .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(smtp.transactions(), 1);
    assert_eq!(harness.rows_of(order.order_id).await.len(), 1);
}

#[sqlx::test(migrations = false)]
async fn smtp_down_then_up_the_email_arrives_once_after_it_returns(pool: PgPool) {
    let address = SmtpSink::free_address();
    let harness = Harness::new(pool).await;
    let app = harness.app(Some(&url_of(address)), &[]).await;
    let buyer = harness.buyer().await;
    let order = notice(&buyer, "Ada", "Jazz Night", 1);
    assert_eq!(
        harness
            .deliver(&app, &envelope(&OrderConfirmed(order.clone())))
            .await,
        StatusCode::ACCEPTED
    );
    // Nothing listens: the attempts fail, the notification stays PENDING with the reason.
    let (_, _, attempts, error) = harness
        .wait_for_row(order.order_id, |(_, status, attempts, _)| {
            status == "PENDING" && *attempts >= 2
        })
        .await;
    assert!(error.is_some_and(|e| e.contains("Connection")));
    let retried = r#"notifications_sent_total{status="retry",type="order.confirmed"}"#;
    assert!(metric(&app.metrics, retried).unwrap() >= 1.0);

    // More e-mails meanwhile: the sender is paused and probes the server with one at a time,
    // rather than failing each one at its own pace.
    let mut others = Vec::new();
    for _ in 0..9 {
        let other = notice(&buyer, "Ada", "Jazz Night", 1);
        assert_eq!(
            harness
                .deliver(&app, &envelope(&OrderConfirmed(other.clone())))
                .await,
            StatusCode::ACCEPTED
        );
        others.push(other.order_id);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let tried: i64 = sqlx::query_scalar("SELECT sum(attempts)::bigint FROM notifications")
        .fetch_one(&harness.pool)
        .await
        .unwrap();
    assert!(tried <= 20, "{tried} attempts in 1.5 s of outage");

    let smtp = SmtpSink::start_on(address).await;
    let received = smtp.wait_for(10, PATIENCE).await;
    assert_eq!(received.len(), 10);
    assert_eq!(parse(&received[0]).subject, "Your tickets for Jazz Night");
    let (_, status, total_attempts, error) = harness
        .wait_for_row(order.order_id, |(_, status, ..)| status == "SENT")
        .await;
    assert_eq!(status, "SENT");
    assert!(total_attempts >= attempts);
    assert_eq!(error, None);
    for other in others {
        harness
            .wait_for_row(other, |(_, status, ..)| status == "SENT")
            .await;
    }
    tokio::time::sleep(SETTLE).await;
    assert_eq!(smtp.received().len(), 10);
    assert_eq!(smtp.transactions(), 10);
}

#[sqlx::test(migrations = false)]
async fn smtp_down_across_a_restart_the_next_process_sends_the_email_once(pool: PgPool) {
    let address = SmtpSink::free_address();
    let harness = Harness::new(pool).await;
    let mut first = harness.app(Some(&url_of(address)), &[]).await;
    let buyer = harness.buyer().await;
    let order = notice(&buyer, "Ada", "Jazz Night", 2);
    assert_eq!(
        harness
            .deliver(&first, &envelope(&OrderConfirmed(order.clone())))
            .await,
        StatusCode::ACCEPTED
    );
    harness
        .wait_for_row(order.order_id, |(_, _, attempts, _)| *attempts >= 2)
        .await;
    // The process goes down while the mail server is still down.
    first.stop().await;
    let stopped_at = harness.rows_of(order.order_id).await[0].2;

    let smtp = SmtpSink::start_on(address).await;
    tokio::time::sleep(SETTLE).await;
    assert!(smtp.received().is_empty(), "a stopped sender sent");
    assert_eq!(harness.rows_of(order.order_id).await[0].2, stopped_at);

    // A new process over the same database finds the notification and sends it.
    let _second = harness.app(Some(&smtp.url()), &[]).await;
    let received = smtp.wait_for(1, PATIENCE).await;
    assert_eq!(received.len(), 1);
    assert_eq!(parse(&received[0]).images.len(), 2);
    harness
        .wait_for_row(order.order_id, |(_, status, ..)| status == "SENT")
        .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(smtp.received().len(), 1);
}

#[sqlx::test(migrations = false)]
async fn a_permanent_rejection_ends_failed_with_the_reason_after_one_attempt(pool: PgPool) {
    let smtp = SmtpSink::start().await;
    smtp.set_mode(Mode::Refuse(
        550,
        "5.1.1 <ada@example.com>: mailbox unavailable".into(),
    ));
    let harness = Harness::new(pool).await;
    let app = harness.app(Some(&smtp.url()), &[]).await;
    let buyer = harness.buyer().await;
    let order = notice(&buyer, "Ada", "Jazz Night", 1);
    assert_eq!(
        harness
            .deliver(&app, &envelope(&OrderConfirmed(order.clone())))
            .await,
        StatusCode::ACCEPTED
    );

    let (id, _, attempts, reason) = harness
        .wait_for_row(order.order_id, |(_, status, ..)| status == "FAILED")
        .await;
    assert_eq!(attempts, 1);
    let reason = reason.unwrap();
    assert!(reason.starts_with("550"), "{reason}");
    assert!(reason.contains("mailbox unavailable"), "{reason}");
    tokio::time::sleep(SETTLE).await;
    assert_eq!(smtp.transactions(), 1, "a refused e-mail was tried again");
    assert!(smtp.received().is_empty());

    let read: serde_json::Value = harness
        .get(&app, &format!("/v1/notifications/{id}"), Some(&buyer.token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "FAILED");
    assert_eq!(read["lastError"], reason);
    assert_eq!(read["attempts"], 1);
    let failed = r#"notifications_sent_total{status="failed",type="order.confirmed"}"#;
    assert_eq!(metric(&app.metrics, failed), Some(1.0));
}

#[sqlx::test(migrations = false)]
async fn a_refusal_for_now_is_retried_until_the_server_accepts(pool: PgPool) {
    let smtp = SmtpSink::start().await;
    smtp.set_mode(Mode::Refuse(451, "4.3.0 try again later".into()));
    let harness = Harness::new(pool).await;
    let app = harness.app(Some(&smtp.url()), &[]).await;
    let buyer = harness.buyer().await;
    let order = notice(&buyer, "Ada", "Jazz Night", 0);
    assert_eq!(
        harness
            .deliver(&app, &envelope(&OrderRefunded(order.clone())))
            .await,
        StatusCode::ACCEPTED
    );
    let (_, _, _, error) = harness
        .wait_for_row(order.order_id, |(_, _, attempts, _)| *attempts >= 2)
        .await;
    assert!(error.unwrap().starts_with("451"));

    smtp.set_mode(Mode::Accept);
    assert_eq!(smtp.wait_for(1, PATIENCE).await.len(), 1);
    harness
        .wait_for_row(order.order_id, |(_, status, ..)| status == "SENT")
        .await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(smtp.received().len(), 1);
}

#[sqlx::test(migrations = false)]
async fn a_send_that_hangs_holds_up_no_other_email_and_is_retried_after_its_timeout(pool: PgPool) {
    let smtp = SmtpSink::start().await;
    let harness = Harness::new(pool).await;
    let app = harness
        .app(
            Some(&smtp.url()),
            &[
                ("NOTIFICATION_SEND_TIMEOUT_SECONDS", "4"),
                ("NOTIFICATION_SEND_CONCURRENCY", "2"),
            ],
        )
        .await;
    let stuck = harness.buyer().await;
    let mut quick = Vec::new();
    for _ in 0..4 {
        quick.push(harness.buyer().await);
    }
    smtp.hang_for(&stuck.email);
    let stuck_order = notice(&stuck, "Slow", "Jazz Night", 1);
    assert_eq!(
        harness
            .deliver(&app, &envelope(&OrderConfirmed(stuck_order.clone())))
            .await,
        StatusCode::ACCEPTED
    );
    // The stuck send has its slot; the others go through the other one, at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.transactions(), 1);
    let started = tokio::time::Instant::now();
    let mut others = Vec::new();
    for buyer in &quick {
        let order = notice(buyer, "Quick", "Jazz Night", 1);
        assert_eq!(
            harness
                .deliver(&app, &envelope(&OrderConfirmed(order.clone())))
                .await,
            StatusCode::ACCEPTED
        );
        others.push(order.order_id);
    }
    assert_eq!(smtp.wait_for(4, PATIENCE).await.len(), 4);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the other e-mails waited for the stuck one: {:?}",
        started.elapsed()
    );
    for order in others {
        harness
            .wait_for_row(order, |(_, status, ..)| status == "SENT")
            .await;
    }
    // The stuck one is given up after its timeout and waits for its next attempt.
    let (_, status, _, error) = harness
        .wait_for_row(stuck_order.order_id, |(_, _, _, error)| error.is_some())
        .await;
    assert_eq!(status, "PENDING");
    assert!(error.unwrap().contains("no answer"));
}

#[sqlx::test(migrations = false)]
async fn two_senders_over_one_database_send_each_email_once(pool: PgPool) {
    // Two replicas of the service, one database, one mail server; messages reach either.
    let smtp = SmtpSink::start().await;
    let harness = Harness::new(pool).await;
    let replicas = [
        harness.app(Some(&smtp.url()), &[]).await,
        harness.app(Some(&smtp.url()), &[]).await,
    ];
    let buyer = harness.buyer().await;
    for i in 0..40 {
        let order = notice(&buyer, "Ada", "Jazz Night", 1);
        let replica = &replicas[i % 2];
        assert_eq!(
            harness
                .deliver(replica, &envelope(&OrderConfirmed(order)))
                .await,
            StatusCode::ACCEPTED
        );
    }
    let received = smtp.wait_for(40, PATIENCE).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(smtp.received().len(), 40, "one e-mail per notification");
    let ids: std::collections::HashSet<String> =
        received.iter().map(|r| parse(r).message_id).collect();
    assert_eq!(ids.len(), 40, "no e-mail sent twice");
    let sent: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE status = 'SENT' AND attempts = 1",
    )
    .fetch_one(&harness.pool)
    .await
    .unwrap();
    assert_eq!(sent, 40, "each sent at its first attempt, by one sender");
}
