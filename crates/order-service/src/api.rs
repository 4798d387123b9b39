//! The JSON shapes of order-service's API, and their validation into domain values.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::money::Money;
use service_kit::paging::Paging;
use service_kit::problem::{FieldError, Fields};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::orders::{ItemRow, OrderRow};
use crate::db::tickets::TicketRow;
use crate::domain::{OrderStatus, TicketStatus};

/// The most seats one order may hold.
pub const MAX_SEATS: usize = 10;
/// The only payment method.
pub const METHOD_CARD: &str = "card";

/// `POST /v1/orders`. Serialised again only to fingerprint it for `Idempotency-Key`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderRequest {
    pub event_id: Uuid,
    /// 1 to 10 distinct seats of the event.
    #[schema(schema_with = seat_ids_schema)]
    pub seat_ids: Vec<Uuid>,
    /// Pay in the same call: the order answers CONFIRMED with its tickets, or 402.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentRequest>,
}

fn seat_ids_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    service_kit::openapi::distinct_ids(1, MAX_SEATS)
}

/// A card payment: a gateway token stands for the card (`tok_visa` on the simulated gateway).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRequest {
    #[schema(example = "card", value_type = PaymentMethod)]
    pub method: String,
    /// 1 to 255 visible ASCII characters (blanks around it are trimmed), never a card number.
    #[schema(example = "tok_visa", pattern = r"^[ \t\n\r]*[!-~]{1,255}[ \t\n\r]*$")]
    pub token: String,
}

/// The only payment method.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // only its schema is used: the request keeps the text, to say what is wrong
pub enum PaymentMethod {
    Card,
}

/// An order request that passed validation.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub event_id: Uuid,
    pub seat_ids: Vec<Uuid>,
    pub card_token: Option<String>,
}

impl CreateOrderRequest {
    pub fn validate(&self) -> Result<NewOrder, Vec<FieldError>> {
        let mut f = Fields::default();
        let distinct: HashSet<&Uuid> = self.seat_ids.iter().collect();
        f.require(
            "seatIds",
            (1..=MAX_SEATS).contains(&self.seat_ids.len()),
            "must name 1 to 10 seats",
        );
        f.require(
            "seatIds",
            distinct.len() == self.seat_ids.len(),
            "must not name a seat twice",
        );
        let card_token = match &self.payment {
            Some(payment) => f.check("payment", payment.validate()).map(Some),
            None => Some(None),
        };
        f.finish(card_token.map(|card_token| NewOrder {
            event_id: self.event_id,
            seat_ids: self.seat_ids.clone(),
            card_token,
        }))
    }
}

impl PaymentRequest {
    /// The card token, when the method is `card` and a token is given (payment-service checks
    /// the token itself).
    pub fn validate(&self) -> Result<String, String> {
        if self.method != METHOD_CARD {
            return Err("method must be `card`".into());
        }
        let token = self.token.trim();
        if token.is_empty() || token.len() > 255 {
            return Err("token must be 1 to 255 characters".into());
        }
        Ok(token.to_owned())
    }
}

/// `GET /v1/orders` filters: the caller's own orders; an admin may name a user or an event.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Admins only: another user's orders.
    pub user_id: Option<Uuid>,
    /// Admins only: the orders of an event.
    pub event_id: Option<Uuid>,
    pub page: Option<i64>,
    pub limit: Option<i64>,
}

impl OrderQuery {
    pub fn paging(&self) -> Result<Paging, Vec<FieldError>> {
        Paging::parse(self.page, self.limit)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderItemView {
    pub seat_id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

impl From<ItemRow> for OrderItemView {
    fn from(item: ItemRow) -> Self {
        Self {
            seat_id: item.seat_id,
            section: item.section,
            row: item.row,
            number: item.number,
            price: item.price,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TicketView {
    /// The ticket's secret: whoever holds it holds the ticket.
    pub code: String,
    pub order_id: Uuid,
    pub event_id: Uuid,
    pub seat_id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price_paid: Money,
    pub status: TicketStatus,
    /// A compact JWS (EdDSA) of the code, event, seat and validity; verify it with the keys of
    /// `GET /v1/tickets/keys`.
    pub qr_payload: String,
}

impl From<TicketRow> for TicketView {
    fn from(ticket: TicketRow) -> Self {
        Self {
            code: ticket.code,
            order_id: ticket.order_id,
            event_id: ticket.event_id,
            seat_id: ticket.seat_id,
            section: ticket.section,
            row: ticket.row,
            number: ticket.number,
            price_paid: ticket.price_paid,
            status: ticket.status,
            qr_payload: ticket.qr_payload,
        }
    }
}

/// An order as the contract shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub event_id: Uuid,
    pub status: OrderStatus,
    pub items: Vec<OrderItemView>,
    pub subtotal: Option<Money>,
    pub tax: Option<Money>,
    pub total: Option<Money>,
    #[schema(example = "EUR")]
    pub currency: Option<String>,
    pub hold_id: Option<Uuid>,
    pub hold_expires_at: Option<DateTime<Utc>>,
    pub payment_id: Option<Uuid>,
    pub tickets: Vec<TicketView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderView {
    pub fn new(order: OrderRow, items: Vec<ItemRow>, tickets: Vec<TicketRow>) -> Self {
        Self {
            id: order.id,
            user_id: order.user_id,
            event_id: order.event_id,
            status: order.status,
            items: items.into_iter().map(Into::into).collect(),
            subtotal: order.subtotal,
            tax: order.tax,
            total: order.total,
            currency: order.currency,
            hold_id: order.hold_id,
            hold_expires_at: order.hold_expires_at,
            payment_id: order.payment_id,
            tickets: tickets.into_iter().map(Into::into).collect(),
            created_at: order.created_at,
            updated_at: order.updated_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: serde_json::Value) -> CreateOrderRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn an_order_names_one_to_ten_distinct_seats() {
        let seat = Uuid::now_v7();
        let none = request(json!({"eventId": seat, "seatIds": []}));
        assert_eq!(none.validate().unwrap_err()[0].field, "seatIds");
        let twice = request(json!({"eventId": seat, "seatIds": [seat, seat]}));
        assert_eq!(twice.validate().unwrap_err()[0].field, "seatIds");
        let eleven: Vec<Uuid> = (0..11).map(|_| Uuid::now_v7()).collect();
        assert!(
            request(json!({"eventId": seat, "seatIds": eleven}))
                .validate()
                .is_err()
        );
        let ten: Vec<Uuid> = (0..10).map(|_| Uuid::now_v7()).collect();
        assert!(
            request(json!({"eventId": seat, "seatIds": ten}))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn a_payment_is_a_card_with_a_token() {
        let seat = Uuid::now_v7();
        let cash = request(json!({"eventId": seat, "seatIds": [seat],
            "payment": {"method": "cash", "token": "x"}}));
        assert_eq!(cash.validate().unwrap_err()[0].field, "payment");
        let card = request(json!({"eventId": seat, "seatIds": [seat],
            "payment": {"method": "card", "token": "tok_visa"}}));
        assert_eq!(
            card.validate().unwrap().card_token.as_deref(),
            Some("tok_visa")
        );
    }
}
