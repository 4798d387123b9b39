//! The messages seating consumes: `event.cancelled`.

use service_kit::Problem;
use service_kit::messages::inbox::Consumer;
use service_kit::messages::{Envelope, types};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::inventory;

#[derive(Clone)]
pub struct SeatingConsumer;

impl Consumer for SeatingConsumer {
    async fn handle(&self, conn: &mut PgConnection, envelope: &Envelope) -> Result<(), Problem> {
        match envelope.message_type.as_str() {
            types::EVENT_CANCELLED => {
                let event_id = envelope.data["eventId"]
                    .as_str()
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .ok_or_else(|| {
                        Problem::validation(vec![service_kit::problem::FieldError::new(
                            "data.eventId",
                            "must be a UUID",
                        )])
                    })?;
                let reason = envelope.data["reason"].as_str().unwrap_or_default();
                inventory::cancel(conn, event_id, reason)
                    .await
                    .map_err(|e| Problem::internal_from(&e))
            }
            other => {
                tracing::debug!(message_type = other, "message not for seating; ignored");
                Ok(())
            }
        }
    }
}
