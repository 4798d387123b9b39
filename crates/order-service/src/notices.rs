//! What the buyer's e-mails say: the `order.*` messages, built from the order as it was placed,
//! so that notification-service never calls back.

use service_kit::messages::payloads::{OrderNotice, TicketNotice, VenueNotice};

use crate::db::orders::OrderRow;
use crate::db::tickets::TicketRow;

/// The notice of `order`, with `tickets` (those of `order.confirmed`; none for the others).
pub fn notice(order: &OrderRow, tickets: &[TicketRow]) -> OrderNotice {
    OrderNotice {
        order_id: order.id,
        user_id: order.user_id,
        email: order.buyer_email.clone(),
        name: order.buyer_name.clone(),
        event_id: order.event_id,
        event_title: order.event_title.clone(),
        starts_at: order.event_starts_at,
        venue: VenueNotice {
            name: order.venue_name.clone(),
            city: order.venue_city.clone(),
        },
        currency: order.currency.clone().unwrap_or_default(),
        subtotal: order.subtotal.unwrap_or_default(),
        tax: order.tax.unwrap_or_default(),
        total: order.total.unwrap_or_default(),
        tickets: tickets
            .iter()
            .map(|t| TicketNotice {
                code: t.code.clone(),
                section: t.section.clone(),
                row: t.row.clone(),
                number: t.number,
                price: t.price_paid,
                qr_payload: t.qr_payload.clone(),
            })
            .collect(),
    }
}
