//! One struct per message type of the contract, shared by its producer and its consumers.
//!
//! A producer writes `outbox::enqueue(&mut tx, SERVICE, &EventCancelled { .. })`; a consumer
//! reads `envelope.data_as::<EventCancelled>()`. The JSON field names are the contract's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Message, types};
use crate::money::Money;

/// `event.cancelled` (catalog → seating, order): no more holds; refund every confirmed order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventCancelled {
    pub event_id: Uuid,
    pub reason: String,
}

impl Message for EventCancelled {
    const TYPE: &'static str = types::EVENT_CANCELLED;
    fn aggregate_id(&self) -> String {
        self.event_id.to_string()
    }
}

/// `seating.sold_out` (seating → catalog): the last seat of the event was sold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatingSoldOut {
    pub event_id: Uuid,
}

impl Message for SeatingSoldOut {
    const TYPE: &'static str = types::SEATING_SOLD_OUT;
    fn aggregate_id(&self) -> String {
        self.event_id.to_string()
    }
}

/// `seating.available` (seating → catalog): a seat of a sold-out event came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatingAvailable {
    pub event_id: Uuid,
}

impl Message for SeatingAvailable {
    const TYPE: &'static str = types::SEATING_AVAILABLE;
    fn aggregate_id(&self) -> String {
        self.event_id.to_string()
    }
}

/// Where an event takes place, as an e-mail names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VenueNotice {
    pub name: String,
    pub city: String,
}

/// A ticket as the receipt shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketNotice {
    pub code: String,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
    /// The signed payload a scanner verifies (a compact JWS), drawn as the QR code.
    pub qr_payload: String,
}

/// What every `order.*` message carries: all the buyer's e-mail needs, so that
/// notification-service never calls back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderNotice {
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub name: String,
    pub event_id: Uuid,
    pub event_title: String,
    pub starts_at: DateTime<Utc>,
    pub venue: VenueNotice,
    pub currency: String,
    pub subtotal: Money,
    pub tax: Money,
    pub total: Money,
    /// The e-tickets; only `order.confirmed` has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<TicketNotice>,
}

macro_rules! order_message {
    ($(#[$doc:meta])* $name:ident, $type:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub OrderNotice);

        impl Message for $name {
            const TYPE: &'static str = $type;
            fn aggregate_id(&self) -> String {
                self.0.order_id.to_string()
            }
        }
    };
}

order_message!(
    /// `order.confirmed`: paid and ticketed; the receipt with the e-tickets.
    OrderConfirmed,
    types::ORDER_CONFIRMED
);
order_message!(
    /// `order.cancelled`: a pending order was cancelled; its hold was released.
    OrderCancelled,
    types::ORDER_CANCELLED
);
order_message!(
    /// `order.expired`: the hold ran out before the payment (refunded if it was taken late).
    OrderExpired,
    types::ORDER_EXPIRED
);
order_message!(
    /// `order.refunded`: a confirmed order was refunded; its tickets are void.
    OrderRefunded,
    types::ORDER_REFUNDED
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Envelope;

    fn envelope<M: Message>(message: &M) -> Envelope {
        Envelope {
            id: Uuid::now_v7(),
            message_type: M::TYPE.to_owned(),
            occurred_at: Utc::now(),
            source: "test".into(),
            data: serde_json::to_value(message).unwrap(),
        }
    }

    #[test]
    fn a_typed_payload_round_trips_through_an_envelope() {
        let sent = EventCancelled {
            event_id: Uuid::now_v7(),
            reason: "storm".into(),
        };
        let envelope = envelope(&sent);
        assert_eq!(envelope.data["eventId"], sent.event_id.to_string());
        assert_eq!(envelope.data_as::<EventCancelled>().unwrap(), sent);
    }

    #[test]
    fn an_order_notice_keeps_the_contract_field_names() {
        let notice = OrderConfirmed(OrderNotice {
            order_id: Uuid::now_v7(),
            user_id: Uuid::now_v7(),
            email: "ada@example.com".into(),
            name: "Ada".into(),
            event_id: Uuid::now_v7(),
            event_title: "Concert".into(),
            starts_at: Utc::now(),
            venue: VenueNotice {
                name: "Hall".into(),
                city: "Lisbon".into(),
            },
            currency: "EUR".into(),
            subtotal: Money::parse("100.00").unwrap(),
            tax: Money::parse("5.00").unwrap(),
            total: Money::parse("105.00").unwrap(),
            tickets: vec![TicketNotice {
                code: "abc".into(),
                section: "A".into(),
                row: "1".into(),
                number: 3,
                price: Money::parse("50.00").unwrap(),
                qr_payload: "x.y.z".into(),
            }],
        });
        let envelope = envelope(&notice);
        for field in ["orderId", "eventTitle", "startsAt", "subtotal", "tickets"] {
            assert!(envelope.data.get(field).is_some(), "{field}");
        }
        assert_eq!(envelope.data["total"], "105.00");
        assert_eq!(envelope.data["tickets"][0]["qrPayload"], "x.y.z");
        assert_eq!(envelope.data_as::<OrderConfirmed>().unwrap(), notice);
    }

    #[test]
    fn an_envelope_of_another_type_or_shape_is_a_422() {
        let envelope = envelope(&SeatingSoldOut {
            event_id: Uuid::now_v7(),
        });
        let wrong_type = envelope.data_as::<SeatingAvailable>().unwrap_err();
        assert_eq!(wrong_type.status.as_u16(), 422);
        let mut broken = envelope.clone();
        broken.data = serde_json::json!({"eventId": "not a uuid"});
        assert_eq!(
            broken
                .data_as::<SeatingSoldOut>()
                .unwrap_err()
                .status
                .as_u16(),
            422
        );
    }
}
