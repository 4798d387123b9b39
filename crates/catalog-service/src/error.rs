//! catalog-service's own errors and their problem answers; the kit's [`service_kit::error`]
//! adds invalid fields, problems from elsewhere and internal errors.

use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::error::ServiceError;
use service_kit::problem::FieldError;

service_kit::service_error!(CatalogError);

#[derive(Debug)]
pub enum CatalogError {
    /// 404: unknown, or a draft the caller may not see.
    NotFound(&'static str),
    /// 409: the event's status does not allow this.
    State(String),
    /// 503: seating-service could not take the inventory; the event stays a draft.
    SeatingUnavailable(String),
    /// 422: two seats of one event at the same place (the database's constraint).
    DuplicateSeats,
}

impl ServiceError for CatalogError {
    fn problem(self) -> Problem {
        match self {
            Self::NotFound(what) => Problem::not_found(what),
            Self::State(detail) => Problem::conflict("event-state", detail),
            Self::SeatingUnavailable(detail) => {
                tracing::warn!(%detail, "seating-service unavailable");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "seating-unavailable",
                    "Seating unavailable",
                )
                .with_detail(
                    "Seating could not take the event's seats; it stays a draft. Retry shortly.",
                )
                .with_retry_after(5)
            }
            Self::DuplicateSeats => Problem::validation(vec![FieldError::new(
                "seats",
                "two seats have the same section, row and number",
            )]),
        }
    }

    fn from_constraint(constraint: &str) -> Option<Self> {
        (constraint == "seats_place_key").then_some(Self::DuplicateSeats)
    }
}
