//! What the buyer receives: the receipt with the e-tickets, and the shorter notices.

use service_kit::messages::payloads::{
    OrderCancelled, OrderConfirmed, OrderExpired, OrderRefunded,
};
use sqlx::PgPool;

use crate::helpers::{
    Harness, PATIENCE, StatusCode, envelope, json, metric, notice, parse, read_qr,
};
use crate::smtp::SmtpSink;

#[sqlx::test(migrations = false)]
async fn the_receipt_reaches_the_buyer_with_every_ticket_in_both_parts_and_a_qr_png_each(
    pool: PgPool,
) {
    let smtp = SmtpSink::start().await;
    let harness = Harness::new(pool).await;
    let app = harness.app(Some(&smtp.url()), &[]).await;
    let buyer = harness.buyer().await;
    let order = notice(&buyer, "Ada Lovelace", "Jazz Night at the Lyric", 3);

    let message = envelope(&OrderConfirmed(order.clone()));
    assert_eq!(harness.deliver(&app, &message).await, StatusCode::ACCEPTED);

    let received = smtp.wait_for(1, PATIENCE).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].to, vec![buyer.email.clone()]);
    assert_eq!(received[0].from, "tickets@ticketing.test");
    let email = parse(&received[0]);
    assert_eq!(email.to, buyer.email);
    assert_eq!(email.subject, "Your tickets for Jazz Night at the Lyric");
    assert_eq!(email.text.len(), 1, "{:?}", email.content_types);
    assert_eq!(email.html.len(), 1, "{:?}", email.content_types);
    let (text, html) = (&email.text[0], &email.html[0]);
    for part in [text, html] {
        assert!(part.contains("Jazz Night at the Lyric"));
        assert!(part.contains("Coliseu"));
        assert!(part.contains(&order.total.to_string()));
        assert!(part.contains(&order.tax.to_string()));
        assert!(part.contains(&order.subtotal.to_string()));
        for ticket in &order.tickets {
            assert!(
                part.contains(&ticket.code),
                "{} missing from\n{part}",
                ticket.code
            );
            assert!(part.contains(&format!("Stalls, row A, seat {}", ticket.number)));
        }
    }
    // One inline PNG per ticket, each referenced by the HTML and each the ticket's QR code.
    assert_eq!(email.images.len(), 3, "{:?}", email.content_types);
    for (ticket, (content_id, png)) in order.tickets.iter().zip(&email.images) {
        assert!(html.contains(&format!("cid:{content_id}")), "{content_id}");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(read_qr(png), ticket.qr_payload);
    }

    // Recorded once the server's answer is in (the sink keeps the message before it answers).
    let (id, _, attempts, _) = harness
        .wait_for_row(order.order_id, |(_, status, ..)| status == "SENT")
        .await;
    assert_eq!(attempts, 1);
    assert_eq!(email.message_id, format!("{id}@ticketing.notification"));

    let read = json(
        harness
            .get(&app, &format!("/v1/notifications/{id}"), Some(&buyer.token))
            .await,
    )
    .await;
    assert_eq!(read["status"], "SENT");
    assert_eq!(read["channel"], "email");
    assert_eq!(read["type"], "order.confirmed");
    assert_eq!(read["recipient"], buyer.email);
    assert_eq!(read["subject"], "Your tickets for Jazz Night at the Lyric");
    assert_eq!(read["attempts"], 1);
    assert!(read["sentAt"].is_string());
    assert_eq!(read["orderId"], order.order_id.to_string());
    assert_eq!(read["userId"], buyer.id.to_string());

    let sent = r#"notifications_sent_total{status="sent",type="order.confirmed"}"#;
    assert_eq!(metric(&app.metrics, sent), Some(1.0));
    assert_eq!(
        metric(&app.metrics, "notification_send_duration_seconds_count"),
        Some(1.0)
    );
}

#[sqlx::test(migrations = false)]
async fn a_name_such_as_script_arrives_escaped_in_the_html_part(pool: PgPool) {
    let smtp = SmtpSink::start().await;
    let harness = Harness::new(pool).await;
    let app = harness.app(Some(&smtp.url()), &[]).await;
    let buyer = harness.buyer().await;
    let order = notice(
        &buyer,
        "<script>alert('owned')</script>",
        "Fado <Night> & Friends",
        1,
    );
    assert_eq!(
        harness
            .deliver(&app, &envelope(&OrderConfirmed(order)))
            .await,
        StatusCode::ACCEPTED
    );
    let email = parse(&smtp.wait_for(1, PATIENCE).await[0]);
    let html = &email.html[0];
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#x27;owned&#x27;)&lt;&#x2f;script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<Night>"));
    assert!(html.contains("Fado &lt;Night&gt; &amp; Friends"));
    // The subject and the text part are not HTML: they carry the words as written.
    assert_eq!(email.subject, "Your tickets for Fado <Night> & Friends");
    assert!(email.text[0].contains("<script>alert('owned')</script>"));
}

#[sqlx::test(migrations = false)]
async fn refund_cancellation_and_expiry_notices_are_shorter_each_with_its_own_words(pool: PgPool) {
    let smtp = SmtpSink::start().await;
    let harness = Harness::new(pool).await;
    let app = harness.app(Some(&smtp.url()), &[]).await;
    let buyer = harness.buyer().await;
    let mut refunded = notice(&buyer, "Ada", "Jazz Night", 0);
    refunded.total = service_kit::money::Money::parse("73.50").unwrap();
    let cancelled = notice(&buyer, "Ada", "Jazz Night", 0);
    let expired = notice(&buyer, "Ada", "Jazz Night", 0);
    for message in [
        envelope(&OrderRefunded(refunded.clone())),
        envelope(&OrderCancelled(cancelled.clone())),
        envelope(&OrderExpired(expired.clone())),
    ] {
        assert_eq!(harness.deliver(&app, &message).await, StatusCode::ACCEPTED);
    }
    let received = smtp.wait_for(3, PATIENCE).await;
    assert_eq!(received.len(), 3);
    let mut emails: Vec<_> = received.iter().map(parse).collect();
    emails.sort_by(|a, b| a.subject.cmp(&b.subject));
    let subjects: Vec<&str> = emails.iter().map(|e| e.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "Your order for Jazz Night was cancelled",
            "Your order for Jazz Night was refunded",
            "Your reservation for Jazz Night expired",
        ]
    );
    for email in &emails {
        assert!(email.images.is_empty());
        assert_eq!((email.text.len(), email.html.len()), (1, 1));
        assert!(email.text[0].len() < 600, "{}", email.text[0]);
    }
    assert!(emails[0].text[0].contains(&cancelled.order_id.to_string()));
    assert!(emails[0].text[0].contains("nothing was charged"));
    assert!(emails[1].text[0].contains("73.50 EUR goes back to the card"));
    assert!(emails[1].html[0].contains("<strong>73.50 EUR</strong>"));
    assert!(emails[2].text[0].contains("the payment did not arrive in time"));
}
