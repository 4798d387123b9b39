//! order-service's own errors and their problem answers; the kit's [`service_kit::error`] adds
//! invalid fields, problems from elsewhere and internal errors.

use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::error::ServiceError;

use crate::api::OrderView;

service_kit::service_error!(OrderError);

#[derive(Debug)]
pub enum OrderError {
    /// 404: no such order, or not one the caller may see.
    OrderNotFound,
    /// 404: no such ticket, or not one the caller may see.
    TicketNotFound,
    /// 409: the event is not on sale (draft, sold out, cancelled).
    EventNotOnSale(String),
    /// 409: seating holds or sold some of the seats; nothing was held. Seating's `conflicts`.
    SeatsTaken(serde_json::Value),
    /// 409: the hold ran out before the payment; with `refunded`, a charge that came too late
    /// was given back.
    HoldExpired { refunded: bool },
    /// 409: the order is not waiting for a payment.
    NotPayable(&'static str),
    /// 409: the order cannot be cancelled now.
    NotCancellable(String),
    /// 409: another request is moving this order right now.
    Busy,
    /// 402: the card was declined; the order is PAYMENT_FAILED and its seats released.
    Declined {
        reason: String,
        order: Box<OrderView>,
    },
    /// 503: a step's outcome is not known yet (a service did not answer); the recovery task
    /// finishes it, and a retry answers what it became.
    Pending(String),
    /// 409: the ticket was used or voided already.
    TicketNotValid(&'static str),
    /// 409: the buyer holds as many seats of the event as one holder may (seating's problem,
    /// passed on: its `limit` and `held`).
    HoldLimit(serde_json::Value),
    /// 429: seating refused the hold because the buyer holds too often.
    HoldsRateLimited,
}

impl ServiceError for OrderError {
    fn problem(self) -> Problem {
        match self {
            Self::OrderNotFound => Problem::not_found("order"),
            Self::TicketNotFound => Problem::not_found("ticket"),
            Self::EventNotOnSale(status) => Problem::conflict(
                "event-not-on-sale",
                format!("The event is not on sale (it is {status})."),
            ),
            Self::SeatsTaken(conflicts) => Problem::new(
                StatusCode::CONFLICT,
                "seats-unavailable",
                "Seats unavailable",
            )
            .with_detail("Some of the seats are held or sold; none were held. See `conflicts`.")
            .with_extension("conflicts", conflicts),
            Self::HoldExpired { refunded } => Problem::conflict(
                "hold-expired",
                if refunded {
                    "The seats' hold expired before the payment completed; the charge was refunded \
                     in full. Place a new order."
                } else {
                    "The seats' hold expired before the payment; nothing was charged. Place a new \
                     order."
                },
            ),
            Self::NotPayable(status) => Problem::conflict(
                "order-not-payable",
                format!("The order is {status}; only a PENDING_PAYMENT order can be paid."),
            ),
            Self::NotCancellable(detail) => Problem::conflict("order-not-cancellable", detail),
            // Transient: the other request (or the recovery) finishes within a step's time.
            Self::Busy => Problem::conflict(
                "order-busy",
                "Another request is completing this order right now; retry shortly.",
            )
            .with_retry_after(1),
            Self::Declined { reason, order } => Problem::new(
                StatusCode::PAYMENT_REQUIRED,
                "payment-declined",
                "Payment declined",
            )
            .with_detail(format!(
                "The card was declined ({reason}). The order is PAYMENT_FAILED and its seats are \
                 released; place a new order to try another card."
            ))
            .with_value("order", order.as_ref()),
            Self::Pending(detail) => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "order-pending",
                "Order pending",
            )
            .with_detail(format!(
                "{detail} The order will be completed or undone shortly; read it again, or retry \
                 with the same Idempotency-Key."
            ))
            .with_retry_after(5),
            Self::TicketNotValid(status) => Problem::conflict(
                "ticket-not-valid",
                format!("The ticket is {status}; it cannot be checked in."),
            ),
            Self::HoldLimit(seating) => Problem::conflict(
                "hold-limit-reached",
                seating["detail"]
                    .as_str()
                    .unwrap_or("You hold as many seats of this event as one buyer may.")
                    .to_owned(),
            )
            .with_extension("limit", seating["limit"].clone())
            .with_extension("held", seating["held"].clone()),
            Self::HoldsRateLimited => service_kit::rate_limit::too_many(
                "holds by this buyer",
                std::time::Duration::from_secs(5),
            ),
        }
    }
}
