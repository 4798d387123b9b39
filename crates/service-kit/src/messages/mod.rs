//! Messages between services: what must happen later, or to several services.
//!
//! A producer writes the message to its `outbox` table in the same transaction as the change it
//! reports ([`outbox::enqueue`]); a [`outbox::Relay`] delivers it to every subscriber with
//! `POST /v1/messages`, retrying with back-off; each consumer records the message id in its
//! `inbox` in the same transaction as its handling ([`inbox`]) and ignores repeats. Delivery is
//! at least once, in order per aggregate, and survives restarts of either side.

pub mod inbox;
pub mod outbox;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

/// The services of the fleet, as subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    User,
    Catalog,
    Seating,
    Order,
    Payment,
    Notification,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user-service",
            Self::Catalog => "catalog-service",
            Self::Seating => "seating-service",
            Self::Order => "order-service",
            Self::Payment => "payment-service",
            Self::Notification => "notification-service",
        }
    }

    /// The variable that holds its base URL, and its default port.
    pub fn url_variable(self) -> (&'static str, u16) {
        use crate::config::ports;
        match self {
            Self::User => ("USER_SERVICE_URL", ports::USER),
            Self::Catalog => ("CATALOG_SERVICE_URL", ports::CATALOG),
            Self::Seating => ("SEATING_SERVICE_URL", ports::SEATING),
            Self::Order => ("ORDER_SERVICE_URL", ports::ORDER),
            Self::Payment => ("PAYMENT_SERVICE_URL", ports::PAYMENT),
            Self::Notification => ("NOTIFICATION_SERVICE_URL", ports::NOTIFICATION),
        }
    }
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

/// Who receives each message type: the contract's table, in one place. Only consumers that
/// exist are listed (a delivery to a service that does not exist would retry for a day and die);
/// order-service and notification-service join when they are built.
pub fn subscribers(message_type: &str) -> &'static [Service] {
    match message_type {
        types::EVENT_CANCELLED => &[Service::Seating],
        types::SEATING_SOLD_OUT | types::SEATING_AVAILABLE => &[Service::Catalog],
        _ => &[],
    }
}
