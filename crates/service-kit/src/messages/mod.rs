//! Messages between services: what must happen later, or to several services.
//!
//! A producer writes the message to its `outbox` table in the same transaction as the change it
//! reports ([`outbox::enqueue`]); a [`outbox::Relay`] delivers it to every subscriber with
//! `POST /v1/messages`, retrying with back-off; each consumer records the message id in its
//! `inbox` in the same transaction as its handling ([`inbox`]) and ignores repeats. Delivery is
//! at least once, in order per aggregate, and survives restarts of either side.

pub mod inbox;
pub mod outbox;
pub mod payloads;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Problem;
use crate::problem::FieldError;

pub use crate::fleet::consumers_of;

/// What travels: `{id, type, occurredAt, source, data}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub message_type: String,
    pub occurred_at: DateTime<Utc>,
    pub source: String,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl Envelope {
    /// The typed payload: one struct per message type ([`payloads`]), shared by producer and
    /// consumer, so a field renamed on one side fails to compile on the other. A 422 problem when
    /// the envelope is of another type or its data does not have the type's shape.
    pub fn data_as<M: Message>(&self) -> Result<M, Problem> {
        if self.message_type != M::TYPE {
            return Err(Problem::validation(vec![FieldError::new(
                "type",
                format!("expected `{}`, got `{}`", M::TYPE, self.message_type),
            )]));
        }
        M::deserialize(&self.data)
            .map_err(|e| Problem::validation(vec![FieldError::new("data", e.to_string())]))
    }
}

/// A message type's payload: its `type` and the aggregate whose messages arrive in order.
pub trait Message: Serialize + DeserializeOwned {
    const TYPE: &'static str;

    /// Messages of one aggregate (an event, an order) reach each consumer in the order written.
    fn aggregate_id(&self) -> String;
}

/// Message types of the contract.
pub mod types {
    pub const EVENT_CANCELLED: &str = "event.cancelled";
    pub const SEATING_SOLD_OUT: &str = "seating.sold_out";
    pub const SEATING_AVAILABLE: &str = "seating.available";
    pub const ORDER_CONFIRMED: &str = "order.confirmed";
    pub const ORDER_CANCELLED: &str = "order.cancelled";
    pub const ORDER_EXPIRED: &str = "order.expired";
    pub const ORDER_REFUNDED: &str = "order.refunded";
}
