//! The one error type of catalog-service and its problem answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::Problem;
use service_kit::problem::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: invalid fields.
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    /// 404: unknown, or a draft the caller may not see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409: the event's status does not allow this.
    #[error("event state conflict: {0}")]
    State(String),
    /// 503: seating-service could not take the inventory; the event stays a draft.
    #[error("seating unavailable: {0}")]
    SeatingUnavailable(String),
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
                return Self::field("seats", "two seats have the same section, row and number");
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
            ApiError::NotFound(what) => Problem::not_found(what),
            ApiError::State(detail) => Problem::conflict("event-state", detail),
            ApiError::SeatingUnavailable(detail) => {
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
