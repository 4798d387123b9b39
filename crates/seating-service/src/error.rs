//! The one error type of seating-service and its problem answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::Problem;
use service_kit::idempotency::IdempotencyError;
use service_kit::problem::FieldError;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: invalid fields.
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    /// 404: the event has no inventory here.
    #[error("unknown event")]
    EventNotFound,
    /// 404: no such hold, or not the caller's.
    #[error("unknown hold")]
    HoldNotFound,
    /// 409: the event is cancelled.
    #[error("event not on sale")]
    NotOnSale,
    /// 409: some seats are held or sold; all or nothing, so nothing was held.
    #[error("seats taken")]
    SeatsTaken(Vec<Uuid>),
    /// 409: the hold can no longer be allocated or released.
    #[error("hold not active: {0}")]
    HoldNotActive(String),
    /// 409: an inventory that contradicts what seating already has.
    #[error("inventory conflict: {0}")]
    InventoryConflict(String),
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    #[error("{0}")]
    Problem(#[from] Problem),
    /// 500: logged with its cause, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error() {
            if db.constraint() == Some("seats_place_key") {
                return Self::InventoryConflict(
                    "two seats of the event have the same section, row and number".into(),
                );
            }
        }
        Self::Internal(e.into())
    }
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<ApiError> for Problem {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Validation(errors) => Problem::validation(errors),
            ApiError::EventNotFound => Problem::not_found("event"),
            ApiError::HoldNotFound => Problem::not_found("hold"),
            ApiError::NotOnSale => Problem::conflict(
                "event-not-on-sale",
                "The event is not on sale (it was cancelled).",
            ),
            ApiError::SeatsTaken(conflicts) => Problem::new(
                StatusCode::CONFLICT,
                "seats-unavailable",
                "Seats unavailable",
            )
            .with_detail("Some of the seats are held or sold; none were held. See `conflicts`.")
            .with_extension("conflicts", serde_json::json!(conflicts)),
            ApiError::HoldNotActive(detail) => Problem::conflict("hold-not-active", detail),
            ApiError::InventoryConflict(detail) => Problem::conflict("inventory-conflict", detail),
            ApiError::Idempotency(e) => e.into(),
            ApiError::Problem(problem) => problem,
            ApiError::Internal(cause) => Problem::internal_from(cause.as_ref()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
