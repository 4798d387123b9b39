//! The error surface every service shares.
//!
//! A service declares only its own errors (an enum implementing [`ServiceError`]: the problem
//! each one answers, and which database constraints mean which of them) and uses
//! `ApiError<ItsErrors>` everywhere; the kit supplies the rest: invalid fields (422), problems
//! built elsewhere (role guards, extractors, idempotency), internal errors (500, cause logged and
//! never sent), the conversion from `sqlx::Error`, and the HTTP answer.
//!
//! ```ignore
//! service_kit::service_error!(SeatingError); // ApiError, ApiResult<T>, and `?` from SeatingError
//! ```

use axum::response::{IntoResponse, Response};

use crate::Problem;
use crate::idempotency::IdempotencyError;
use crate::problem::FieldError;

/// What a service's own error enum provides.
pub trait ServiceError: std::fmt::Debug + Send + Sync + 'static {
    /// The problem this error answers.
    fn problem(self) -> Problem;

    /// The error a violated database constraint stands for (by constraint or unique index
    /// name), if it is one of ours rather than a bug.
    fn from_constraint(_constraint: &str) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
}

/// Declares a service's `ApiError` (the kit's, over its own errors) and `ApiResult<T>`, and lets
/// `?` turn its own error into it. (A blanket `From` in the kit would collide with the kit's
/// other conversions, so each service states it, in this one line.)
#[macro_export]
macro_rules! service_error {
    ($own:ty) => {
        pub type ApiError = $crate::error::ApiError<$own>;
        pub type ApiResult<T> = ::std::result::Result<T, ApiError>;

        impl ::std::convert::From<$own> for $crate::error::ApiError<$own> {
            fn from(e: $own) -> Self {
                Self::Service(e)
            }
        }
    };
}

/// A service's errors and the kit's, behind one type with one `IntoResponse`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError<E: ServiceError> {
    /// The service's own error.
    #[error("{0:?}")]
    Service(E),
    /// 422: fields that do not validate.
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    /// Any problem built elsewhere (role guards, the kit's extractors, idempotency).
    #[error("{0}")]
    Problem(Problem),
    /// 500: logged with its cause, never sent.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl<E: ServiceError> ApiError<E> {
    /// 422 for one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// 500 with a cause for the log.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    /// The service's own error, if that is what this is.
    pub fn service(&self) -> Option<&E> {
        match self {
            Self::Service(e) => Some(e),
            _ => None,
        }
    }
}

impl<E: ServiceError> From<Problem> for ApiError<E> {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

impl<E: ServiceError> From<IdempotencyError> for ApiError<E> {
    fn from(e: IdempotencyError) -> Self {
        Self::Problem(e.into())
    }
}

impl<E: ServiceError> From<anyhow::Error> for ApiError<E> {
    fn from(e: anyhow::Error) -> Self {
        Self::Internal(e)
    }
}

impl<E: ServiceError> From<Vec<FieldError>> for ApiError<E> {
    fn from(errors: Vec<FieldError>) -> Self {
        Self::Validation(errors)
    }
}

impl<E: ServiceError> From<sqlx::Error> for ApiError<E> {
    fn from(e: sqlx::Error) -> Self {
        let known = e
            .as_database_error()
            .and_then(|db| db.constraint())
            .and_then(E::from_constraint);
        match known {
            Some(service_error) => Self::Service(service_error),
            None => Self::Internal(e.into()),
        }
    }
}

impl<E: ServiceError> From<ApiError<E>> for Problem {
    fn from(err: ApiError<E>) -> Self {
        match err {
            ApiError::Service(e) => e.problem(),
            ApiError::Validation(errors) => Problem::validation(errors),
            ApiError::Problem(problem) => problem,
            ApiError::Internal(cause) => Problem::internal_from(cause.as_ref()),
        }
    }
}

impl<E: ServiceError> IntoResponse for ApiError<E> {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[derive(Debug)]
    enum Shop {
        SoldOut,
    }

    impl ServiceError for Shop {
        fn problem(self) -> Problem {
            match self {
                Self::SoldOut => Problem::conflict("sold-out", "Nothing left."),
            }
        }

        fn from_constraint(constraint: &str) -> Option<Self> {
            (constraint == "stock_positive").then_some(Self::SoldOut)
        }
    }

    #[test]
    fn each_kind_answers_its_problem() {
        let own: Problem = ApiError::Service(Shop::SoldOut).into();
        assert_eq!(own.status, StatusCode::CONFLICT);
        assert_eq!(own.code(), "sold-out");
        let field: Problem = ApiError::<Shop>::field("name", "required").into();
        assert_eq!(field.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field.errors[0].field, "name");
        let internal: Problem = ApiError::<Shop>::internal(anyhow::anyhow!("disk on fire")).into();
        assert_eq!(internal.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!serde_json::to_string(&internal).unwrap().contains("disk"));
    }

    #[test]
    fn an_unknown_database_error_is_internal() {
        let err: ApiError<Shop> = sqlx::Error::RowNotFound.into();
        assert!(matches!(err, ApiError::Internal(_)));
    }
}
