//! user-service's own errors and their problem answers; the kit's [`service_kit::error`] adds
//! invalid fields, problems from elsewhere and internal errors.

use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::error::ServiceError;

pub type ApiError = service_kit::error::ApiError<UserError>;
pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum UserError {
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
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        Self::Service(e)
    }
}

impl ServiceError for UserError {
    fn problem(self) -> Problem {
        match self {
            Self::EmailTaken => Problem::conflict(
                "email-taken",
                "An account with this e-mail address already exists.",
            ),
            Self::InvalidCredentials => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-credentials",
                "Invalid credentials",
            )
            .with_detail("The e-mail address or the password is wrong."),
            Self::Throttled {
                retry_after_seconds,
            } => Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-login-attempts",
                "Too many failed logins",
            )
            .with_detail("Too many failed logins; wait before trying again.")
            .with_retry_after(retry_after_seconds),
            Self::InvalidRefreshToken => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-refresh-token",
                "Invalid refresh token",
            )
            .with_detail(
                "The refresh token is unknown, expired, revoked or already used; log in again.",
            ),
            Self::InvalidClient => Problem::new(
                StatusCode::UNAUTHORIZED,
                "invalid-client",
                "Invalid client credentials",
            )
            .with_detail("Unknown client id or wrong client secret."),
            Self::UserNotFound => Problem::not_found("user"),
        }
    }

    fn from_constraint(constraint: &str) -> Option<Self> {
        (constraint == "users_email_key").then_some(Self::EmailTaken)
    }
}
