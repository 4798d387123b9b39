//! seating-service's own errors and their problem answers; the kit's [`service_kit::error`]
//! adds invalid fields, problems from elsewhere and internal errors.

use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::error::ServiceError;
use uuid::Uuid;

service_kit::service_error!(SeatingError);

#[derive(Debug)]
pub enum SeatingError {
    /// 404: the event has no inventory here.
    EventNotFound,
    /// 404: no such hold, or not the caller's.
    HoldNotFound,
    /// 409: the event is cancelled, or not opened yet.
    NotOnSale,
    /// 409: some seats are held or sold; all or nothing, so nothing was held.
    SeatsTaken(Vec<Uuid>),
    /// 409: the hold can no longer be allocated or released.
    HoldNotActive(String),
    /// 409: an inventory that contradicts what seating already has.
    InventoryConflict(String),
    /// 409: the holder would hold more than `MAX_HELD_SEATS_PER_HOLDER` seats of the event.
    HoldLimit { limit: i64, held: i64 },
    /// 503: this process streams seat maps to as many subscribers as it may.
    TooManySubscribers,
}

impl ServiceError for SeatingError {
    fn problem(self) -> Problem {
        match self {
            Self::EventNotFound => Problem::not_found("event"),
            Self::HoldNotFound => Problem::not_found("hold"),
            Self::NotOnSale => Problem::conflict(
                "event-not-on-sale",
                "The event is not on sale (it was cancelled, or is not published yet).",
            ),
            Self::SeatsTaken(conflicts) => Problem::new(
                StatusCode::CONFLICT,
                "seats-unavailable",
                "Seats unavailable",
            )
            .with_detail("Some of the seats are held or sold; none were held. See `conflicts`.")
            .with_extension("conflicts", serde_json::json!(conflicts)),
            Self::HoldNotActive(detail) => Problem::conflict("hold-not-active", detail),
            Self::InventoryConflict(detail) => Problem::conflict("inventory-conflict", detail),
            Self::HoldLimit { limit, held } => Problem::conflict(
                "hold-limit-reached",
                format!(
                    "One holder may hold at most {limit} seats of an event at a time, and already holds {held}; nothing was held. Pay for or release a hold first."
                ),
            )
            .with_extension("limit", serde_json::json!(limit))
            .with_extension("held", serde_json::json!(held)),
            Self::TooManySubscribers => Problem::unavailable(
                "This replica streams seat maps to as many subscribers as it may; retry shortly, or poll the status.",
                5,
            ),
        }
    }

    fn from_constraint(constraint: &str) -> Option<Self> {
        (constraint == "seats_place_key").then(|| {
            Self::InventoryConflict(
                "two seats of the event have the same section, row and number".into(),
            )
        })
    }
}
