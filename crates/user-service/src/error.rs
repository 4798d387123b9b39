//! The one error type of user-service and its problem answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::Problem;
use service_kit::problem::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: fields that do not validate.
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    /// 409: the e-mail belongs to another account (in any letter case).
    #[error("e-mail already registered")]
    EmailTaken,
    /// 401: one answer for an unknown e-mail and a wrong password, so that login does not tell
    /// which addresses have accounts.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// 429: too many failed logins for this e-mail or from this address.
    #[error("too many failed logins")]
    Throttled { retry_after_seconds: u64 },
    /// 401: refresh token unknown, expired, revoked, or already used.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// 401: unknown service client or wrong secret.
    #[error("invalid client credentials")]
    InvalidClient,
    /// 404: no such user, or not one the caller may see.
    #[error("user not found")]
    UserNotFound,
    /// Any problem built elsewhere (role guards, the kit's extractors).
    #[error("{0}")]
    Problem(#[from] Problem),
    /// 500: logged with its cause, never sent.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if let Some(db) = e.as_database_error() {
            if db.constraint() == Some("users_email_key") {
                return Self::EmailTaken;
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
            ApiError::EmailTaken => Problem::conflict(
                "email-taken",
                "An account with this e-mail address already exists.",
            ),
            ApiError::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "Invalid credentials",
            )
            .with_detail("The e-mail address or the password is wrong."),
            ApiError::Throttled {
                retry_after_seconds,
            } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-login-attempts",
                "Too many failed logins",
            )
            .with_detail("Too many failed logins; wait before trying again.")
            .with_retry_after(retry_after_seconds),
            ApiError::InvalidRefreshToken => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-refresh-token",
                "Invalid refresh token",
            )
            .with_detail(
                "The refresh token is unknown, expired, revoked or already used; log in again.",
            ),
            ApiError::InvalidClient => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-client",
                "Invalid client credentials",
            )
            .with_detail("Unknown client id or wrong client secret."),
            ApiError::UserNotFound => Problem::not_found("user"),
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
