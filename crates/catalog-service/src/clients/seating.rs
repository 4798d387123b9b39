//! seating-service, as catalog needs it: the inventory of an event being published.

use serde::Serialize;
use serde_json::json;
use service_kit::client::{ClientError, ServiceClient};
use service_kit::money::{Currency, Money};
use uuid::Uuid;

use crate::db::seats::SeatRow;

/// seating-service's limit per inventory request (1 MiB bodies); a large event goes in several
/// requests of one publication.
pub const SEATS_PER_REQUEST: usize = 5_000;

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

    /// Sends one request of a publication of the event's seats (at most [`SEATS_PER_REQUEST`]),
    /// `open` on its last. Seating keeps the event a draft, where nothing can be held, until
    /// the request that opens it; the upsert is idempotent, so a request may be repeated (the
    /// kit's client retries transport errors and 502/503/504).
    pub async fn put_inventory(
        &self,
        event_id: Uuid,
        currency: Currency,
        seats: &[SeatRow],
        publication: Uuid,
        open: bool,
    ) -> Result<(), PushError> {
        let seats: Vec<InventorySeat<'_>> = seats.iter().map(Into::into).collect();
        let body = json!({
            "currency": currency,
            "seats": seats,
            "publicationId": publication,
            "open": open,
        });
        let result = self
            .client
            .put(&format!("/v1/events/{event_id}/inventory"))
            .json(&body)
            .send_json::<serde_json::Value>()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(ClientError::Status { status, body, .. }) if status.is_client_error() => {
                Err(PushError::Refused {
                    status: status.as_u16(),
                    body,
                })
            }
            Err(e) => Err(PushError::Unavailable(e.to_string())),
        }
    }
}
