//! The messages order-service consumes: `event.cancelled`. Receiving it records the event's
//! cancellation in the inbox's transaction; the refunds and releases happen afterwards, from
//! that record ([`crate::workers::undo_cancelled_events`]), so a redelivered message repeats
//! nothing and a restart loses nothing.

use service_kit::Problem;
use service_kit::messages::inbox::Consumer;
use service_kit::messages::payloads::EventCancelled;
use service_kit::messages::{Envelope, Message};
use sqlx::PgConnection;

use crate::db::cancellations;

#[derive(Clone)]
pub struct OrderConsumer;

impl Consumer for OrderConsumer {
    async fn handle(&self, conn: &mut PgConnection, envelope: &Envelope) -> Result<(), Problem> {
        if envelope.message_type != EventCancelled::TYPE {
            tracing::debug!(message_type = %envelope.message_type, "message not for orders; ignored");
            return Ok(());
        }
        let cancelled: EventCancelled = envelope.data_as()?;
        cancellations::record(conn, cancelled.event_id, &cancelled.reason)
            .await
            .map_err(|e| Problem::internal_from(&e))?;
        tracing::info!(event_id = %cancelled.event_id, "event cancelled: its orders will be undone");
        Ok(())
    }
}
