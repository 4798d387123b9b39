//! seating-service: holds for orders, their allocation, release, and the return of sold seats.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use service_kit::client::ServiceClient;
use service_kit::money::Money;
use uuid::Uuid;

use super::Remote;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hold {
    pub hold_id: Uuid,
    pub status: String,
    pub expires_at: DateTime<Utc>,
    pub seats: Vec<HeldSeat>,
    pub currency: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldSeat {
    pub seat_id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

#[derive(Clone, Debug)]
pub struct SeatingClient(pub ServiceClient);

impl SeatingClient {
    /// Holds the seats for the buyer, for seating's own TTL. The key makes a repeat (after a
    /// crash or a lost answer) return the same hold instead of holding twice.
    pub async fn reserve(
        &self,
        key: &str,
        event_id: Uuid,
        seat_ids: &[Uuid],
        holder_id: Uuid,
    ) -> Result<Hold, Remote> {
        Ok(self
            .0
            .post("/v1/seats/reserve")
            .idempotency_key(key)
            .json(&json!({ "eventId": event_id, "seatIds": seat_ids, "holderId": holder_id }))
            .send_json()
            .await?)
    }

    /// Sells the hold's seats to the order; idempotent for the same order.
    pub async fn allocate(&self, hold_id: Uuid, order_id: Uuid) -> Result<Hold, Remote> {
        Ok(self
            .0
            .post("/v1/seats/allocate")
            .retry_safe()
            .json(&json!({ "holdId": hold_id, "orderId": order_id }))
            .send_json()
            .await?)
    }

    /// Lets the hold go; idempotent (an expired hold stays expired).
    pub async fn release(&self, hold_id: Uuid) -> Result<Hold, Remote> {
        Ok(self
            .0
            .post("/v1/seats/release")
            .retry_safe()
            .json(&json!({ "holdId": hold_id }))
            .send_json()
            .await?)
    }

    /// Makes the sold seats of a refunded order available again; idempotent.
    pub async fn return_seats(
        &self,
        event_id: Uuid,
        seat_ids: &[Uuid],
        order_id: Uuid,
    ) -> Result<(), Remote> {
        self.0
            .post("/v1/seats/return")
            .retry_safe()
            .json(&json!({ "eventId": event_id, "seatIds": seat_ids, "orderId": order_id }))
            .send_json::<serde_json::Value>()
            .await?;
        Ok(())
    }
}
