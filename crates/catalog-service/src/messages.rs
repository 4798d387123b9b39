//! The messages catalog consumes: seating's sold-out and available-again notices.

use service_kit::Problem;
use service_kit::messages::inbox::Consumer;
use service_kit::messages::{Envelope, types};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::events;
use crate::domain::EventStatus;

#[derive(Clone)]
pub struct CatalogConsumer;

impl Consumer for CatalogConsumer {
    async fn handle(&self, conn: &mut PgConnection, envelope: &Envelope) -> Result<(), Problem> {
        let (from, to) = match envelope.message_type.as_str() {
            types::SEATING_SOLD_OUT => (EventStatus::OnSale, EventStatus::SoldOut),
            types::SEATING_AVAILABLE => (EventStatus::SoldOut, EventStatus::OnSale),
            other => {
                tracing::debug!(message_type = other, "message not for catalog; ignored");
                return Ok(());
            }
        };
        let event_id = envelope.data["eventId"]
            .as_str()
            .and_then(|s| Uuid::parse_str(s).ok())
            .ok_or_else(|| {
                Problem::validation(vec![service_kit::problem::FieldError::new(
                    "data.eventId",
                    "must be a UUID",
                )])
            })?;
        // A cancelled event stays cancelled: the transition only applies from `from`.
        let moved = events::transition(&mut *conn, event_id, &[from], to)
            .await
            .map_err(|e| Problem::internal_from(&e))?;
        tracing::info!(%event_id, %to, moved, "seating notice applied");
        Ok(())
    }
}
