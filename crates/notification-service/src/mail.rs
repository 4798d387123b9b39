//! A notification as a MIME message, built with lettre.
//!
//! ```text
//! multipart/alternative
//! ├── text/plain                      the text template
//! └── multipart/related               (a receipt; the other notices are just text/html here)
//!     ├── text/html                   the HTML template, <img src="cid:…"> per ticket
//!     └── image/png  inline, Content-ID: <qr1.{notification id}@ticketing.notification>  ×n
//! ```
//!
//! The `Message-ID` is derived from the notification's id ([`crate::domain::message_id`]), and
//! the body is rendered from the order notice stored with the notification, so building the same
//! notification twice gives the same e-mail (but for its `Date` and MIME boundaries).

use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use service_kit::messages::payloads::OrderNotice;

use crate::db::notifications::NotificationRow;
use crate::domain::{NotificationType, message_id};
use crate::qr::{self, QrCache};
use crate::templates::{EmailView, Templates};

/// Why a notification cannot be made into an e-mail. None of these gets better by trying
/// again: the notification is FAILED with the reason.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("the stored order notice is unreadable: {0}")]
    Notice(#[from] serde_json::Error),
    #[error("`{0}` is not an e-mail address")]
    Recipient(String),
    #[error("a template failed: {0}")]
    Template(#[from] minijinja::Error),
    #[error("a ticket's QR code failed: {0}")]
    Qr(#[from] qr::QrError),
    #[error("the message could not be built: {0}")]
    Build(#[from] lettre::error::Error),
}

/// The `To` of a notice: the buyer's name and address. `Err` with the address when it is none.
pub fn recipient(name: &str, email: &str) -> Result<Mailbox, ComposeError> {
    let address = email
        .trim()
        .parse()
        .map_err(|_| ComposeError::Recipient(email.to_owned()))?;
    Ok(Mailbox::new(Some(name.trim().to_owned()), address))
}

/// What every e-mail is made with: the templates, the sender's address, the QR codes drawn so
/// far.
#[derive(Debug)]
pub struct Composer {
    pub templates: Templates,
    pub from: Mailbox,
    pub qr: QrCache,
}

impl Composer {
    /// The e-mail of `notification`. CPU work (templates, QR codes): run it off the async
    /// workers.
    pub fn compose(&self, notification: &NotificationRow) -> Result<Message, ComposeError> {
        compose(&self.templates, &self.from, &self.qr, notification)
    }
}

/// The e-mail of `notification`, from `from`.
pub fn compose(
    templates: &Templates,
    from: &Mailbox,
    qr: &QrCache,
    notification: &NotificationRow,
) -> Result<Message, ComposeError> {
    let notice: OrderNotice = serde_json::from_value(notification.data.0.clone())?;
    let to = recipient(&notice.name, &notification.recipient)?;
    let id = notification.id;
    let content_id = |i: usize| format!("qr{}.{id}@ticketing.notification", i + 1);
    let view = EmailView::new(&notice, content_id);
    let bodies = templates.render(notification.kind, &view)?;
    let builder = Message::builder()
        .message_id(Some(message_id(id)))
        .from(from.clone())
        .to(to)
        .subject(notification.subject.clone());
    let text = SinglePart::plain(bodies.text);
    let html = SinglePart::html(bodies.html);
    let body =
        if notification.kind == NotificationType::OrderConfirmed && !notice.tickets.is_empty() {
            let png = ContentType::parse("image/png").expect("a valid media type");
            let mut related = MultiPart::related().singlepart(html);
            for (ticket, view) in notice.tickets.iter().zip(&view.tickets) {
                let image = qr.png(&ticket.qr_payload)?;
                related = related.singlepart(
                    Attachment::new_inline_with_name(
                        view.content_id.clone(),
                        format!("ticket-{}.png", ticket.code),
                    )
                    .body(image.to_vec(), png.clone()),
                );
            }
            MultiPart::alternative().singlepart(text).multipart(related)
        } else {
            MultiPart::alternative().singlepart(text).singlepart(html)
        };
    Ok(builder.multipart(body)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::Utc;
    use sqlx::types::Json;
    use uuid::Uuid;

    use super::*;
    use crate::domain::NotificationStatus;

    fn row(kind: NotificationType, notice: &OrderNotice) -> NotificationRow {
        NotificationRow {
            id: Uuid::now_v7(),
            message_id: Uuid::now_v7(),
            kind,
            user_id: notice.user_id,
            order_id: notice.order_id,
            recipient: notice.email.clone(),
            subject: kind.subject(&notice.event_title),
            data: Json(serde_json::to_value(notice).unwrap()),
            status: NotificationStatus::Pending,
            attempts: 1,
            next_attempt_at: Utc::now(),
            last_error: None,
            sent_at: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn a_receipt_is_text_and_html_with_one_inline_png_per_ticket() {
        let templates = Templates::load().unwrap();
        let notice = crate::templates::tests::notice("Ada", "Jazz Night");
        let row = row(NotificationType::OrderConfirmed, &notice);
        let from: Mailbox = "Tickets <tickets@localhost>".parse().unwrap();
        let message = compose(&templates, &from, &QrCache::new(4), &row).unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(raw.contains(&format!("Message-ID: <{}@ticketing.notification>", row.id)));
        assert!(raw.contains("multipart/alternative"));
        assert!(raw.contains("multipart/related"));
        assert_eq!(raw.matches("Content-Type: image/png").count(), 2);
        assert!(raw.contains(&format!(
            "Content-ID: <qr1.{}@ticketing.notification>",
            row.id
        )));
        assert!(raw.contains("To: Ada <ada@example.com>"));
    }

    #[test]
    fn a_notice_without_tickets_has_no_images() {
        let templates = Templates::load().unwrap();
        let mut notice = crate::templates::tests::notice("Ada", "Jazz Night");
        notice.tickets.clear();
        let row = row(NotificationType::OrderRefunded, &notice);
        let message = compose(
            &templates,
            &"t@localhost".parse().unwrap(),
            &QrCache::new(0),
            &row,
        )
        .unwrap();
        let raw = String::from_utf8(message.formatted()).unwrap();
        assert!(!raw.contains("image/png"));
        assert!(!raw.contains("multipart/related"));
    }

    #[test]
    fn an_address_that_is_none_cannot_be_composed() {
        assert!(matches!(
            recipient("Ada", "not-an-address"),
            Err(ComposeError::Recipient(_))
        ));
    }
}
