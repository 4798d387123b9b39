//! seating-service, as catalog needs it: the inventory upsert of a published event.

use serde::Serialize;
use serde_json::json;
use service_kit::client::{ClientError, ServiceClient};
use service_kit::money::{Currency, Money};
use uuid::Uuid;

use crate::db::seats::SeatRow;

/// seating-service's limit per inventory request (1 MiB bodies); the upsert is idempotent, so a
/// large event goes in several requests.
const SEATS_PER_REQUEST: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Seating did not answer, or answered 5xx: try again later.
    #[error("{0}")]
    Unavailable(String),
    /// Seating answered with a refusal (the event is cancelled there, say).
    #[error("seating refused the inventory ({status}): {body}")]
    Refused { status: u16, body: String },
}

/// A seat as seating's inventory takes it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InventorySeat<'a> {
    seat_id: Uuid,
    section: &'a str,
    row: &'a str,
    number: i32,
    price: Money,
}

impl<'a> From<&'a SeatRow> for InventorySeat<'a> {
    fn from(s: &'a SeatRow) -> Self {
        Self {
            seat_id: s.id,
            section: &s.section,
            row: &s.row,
            number: s.number,
            price: s.price,
        }
    }
}

#[derive(Clone, Debug)]
pub struct SeatingClient {
    client: ServiceClient,
}

impl SeatingClient {
    pub fn new(client: ServiceClient) -> Self {
        Self { client }
    }

    /// Upserts the event's seats in seating; returns when seating has them all.
    pub async fn push_inventory(
        &self,
        event_id: Uuid,
        currency: Currency,
        seats: &[SeatRow],
    ) -> Result<(), PushError> {
        for chunk in seats.chunks(SEATS_PER_REQUEST) {
            let chunk: Vec<InventorySeat<'_>> = chunk.iter().map(Into::into).collect();
            let body = json!({ "currency": currency, "seats": chunk });
            let result = self
                .client
                .put(&format!("/v1/events/{event_id}/inventory"))
                .json(&body)
                .send_json::<serde_json::Value>()
                .await;
            match result {
                Ok(_) => {}
                Err(ClientError::Status { status, body, .. }) if status.is_client_error() => {
                    return Err(PushError::Refused {
                        status: status.as_u16(),
                        body,
                    });
                }
                Err(e) => return Err(PushError::Unavailable(e.to_string())),
            }
        }
        Ok(())
    }
}
