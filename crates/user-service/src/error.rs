//! user-service's own errors and their problem answers; the kit's [`service_kit::error`] adds
//! invalid fields, problems from elsewhere and internal errors.

use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::error::ServiceError;

service_kit::service_error!(UserError);

#[derive(Debug)]
pub enum UserError {
    /// 409: the e-mail belongs to another account (in any letter case).
    EmailTaken,
    /// 401: one answer for an unknown e-mail and a wrong password, so that login does not tell
    /// which addresses have accounts.
    InvalidCredentials,
    /// 429: too many failed logins for this e-mail or from this address.
    Throttled { retry_after_seconds: u64 },
    /// 401: refresh token unknown, expired, revoked, or already used.
    InvalidRefreshToken,
    /// 401: unknown service client or wrong secret.
    InvalidClient,
    /// 404: no such user, or not one the caller may see.
    UserNotFound,
    /// 503: the password hashers have no room for this request now.
    HashersBusy,
}

impl From<crate::passwords::HashError> for ApiError {
    fn from(e: crate::passwords::HashError) -> Self {
        match e {
            crate::passwords::HashError::Busy => UserError::HashersBusy.into(),
            crate::passwords::HashError::Failed(e) => Self::Internal(e),
        }
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
            Self::HashersBusy => Problem::unavailable(
                "Too many password checks are waiting; try again in a moment.",
                1,
            ),
        }
    }

    fn from_constraint(constraint: &str) -> Option<Self> {
        (constraint == "users_email_key").then_some(Self::EmailTaken)
    }
}
