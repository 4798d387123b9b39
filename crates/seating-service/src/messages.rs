//! The messages seating consumes: `event.cancelled`.

use service_kit::Problem;
use service_kit::messages::inbox::Consumer;
use service_kit::messages::payloads::EventCancelled;
use service_kit::messages::{Envelope, Message};
use sqlx::PgConnection;

use crate::inventory;

#[derive(Clone)]
pub struct SeatingConsumer;

impl Consumer for SeatingConsumer {
    async fn handle(&self, conn: &mut PgConnection, envelope: &Envelope) -> Result<(), Problem> {
        if envelope.message_type != EventCancelled::TYPE {
            tracing::debug!(message_type = %envelope.message_type, "message not for seating; ignored");
            return Ok(());
        }
        let cancelled: EventCancelled = envelope.data_as()?;
        inventory::cancel(conn, cancelled.event_id, &cancelled.reason)
            .await
            .map_err(|e| Problem::internal_from(&e))
    }
}
