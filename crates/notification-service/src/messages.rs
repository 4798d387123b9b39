//! The messages notification-service consumes: `order.confirmed`, `order.cancelled`,
//! `order.expired` and `order.refunded`. Receiving one writes its notification down (PENDING) in
//! the inbox's transaction, and nothing else: the e-mail is sent afterwards, from that record, by
//! the sender ([`crate::sender`]). A redelivered message therefore makes no second notification
//! and no second e-mail, and a message whose e-mail cannot go out yet is not lost.
//!
//! `event.cancelled` is in the contract's list, but order-service turns an event's cancellation
//! into one `order.refunded` or `order.cancelled` per order, which is what tells each buyer; it
//! is accepted and ignored here, like every type this service does not act on.

use service_kit::Problem;
use service_kit::messages::Envelope;
use service_kit::messages::inbox::Consumer;
use service_kit::messages::payloads::{
    OrderCancelled, OrderConfirmed, OrderExpired, OrderNotice, OrderRefunded,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::notifications::{self, NewNotification};
use crate::domain::NotificationType;
use crate::mail;

#[derive(Clone)]
pub struct NotificationConsumer;

impl Consumer for NotificationConsumer {
    async fn handle(&self, conn: &mut PgConnection, envelope: &Envelope) -> Result<(), Problem> {
        let Some(kind) = NotificationType::of_message(&envelope.message_type) else {
            tracing::debug!(message_type = %envelope.message_type, "message not for notifications; ignored");
            return Ok(());
        };
        let notice: OrderNotice = match kind {
            NotificationType::OrderConfirmed => envelope.data_as::<OrderConfirmed>()?.0,
            NotificationType::OrderCancelled => envelope.data_as::<OrderCancelled>()?.0,
            NotificationType::OrderExpired => envelope.data_as::<OrderExpired>()?.0,
            NotificationType::OrderRefunded => envelope.data_as::<OrderRefunded>()?.0,
        };
        // An address that is none can never be sent to: the notification is written down FAILED
        // (visible in the list), rather than refused, which would have the producer retry a
        // message that cannot get better.
        let failure = mail::recipient(&notice.name, &notice.email)
            .err()
            .map(|e| e.to_string());
        let subject = kind.subject(&notice.event_title);
        let new = NewNotification {
            id: Uuid::now_v7(),
            message_id: envelope.id,
            kind,
            user_id: notice.user_id,
            order_id: notice.order_id,
            recipient: notice.email.trim(),
            subject: &subject,
            data: &envelope.data,
            failure: failure.as_deref(),
        };
        let created = notifications::insert(conn, &new)
            .await
            .map_err(|e| Problem::internal_from(&e))?;
        if created {
            tracing::info!(notification_id = %new.id, order_id = %notice.order_id,
                notification_type = kind.as_str(), "notification recorded");
        } else {
            tracing::warn!(order_id = %notice.order_id, notification_type = kind.as_str(),
                "the order already has this notification (another message id); not repeated");
        }
        Ok(())
    }
}
