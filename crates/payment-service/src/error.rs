//! The one error type of payment-service and its problem answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use service_kit::Problem;
use service_kit::idempotency::IdempotencyError;
use service_kit::problem::FieldError;

use crate::api::PaymentView;
use crate::gateway::GatewayError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: invalid fields.
    #[error("invalid fields")]
    Validation(Vec<FieldError>),
    /// 404: no such payment, or not the caller's.
    #[error("unknown payment")]
    PaymentNotFound,
    /// 409: the order has a payment that succeeded or is in progress.
    #[error("order already paid")]
    OrderAlreadyPaid,
    /// 409: the payment's status or remaining amount does not allow this refund.
    #[error("not refundable: {0}")]
    NotRefundable(String),
    /// 402: the card was declined; the FAILED payment goes with the problem.
    #[error("payment declined")]
    Declined(Box<PaymentView>),
    /// 502: the gateway did not decide; the payment stays retryable.
    #[error("payment gateway failed")]
    Gateway(#[source] GatewayError),
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
            // A unique index reports its own name as the constraint.
            match db.constraint() {
                Some("payments_one_success_per_order") => return Self::OrderAlreadyPaid,
                Some("payments_refunded_within_amount" | "payments_status_matches_refunds") => {
                    return Self::NotRefundable(
                        "The refunds would exceed the amount charged.".into(),
                    );
                }
                // Requests with one key are serialised by the idempotency store; meeting another
                // here means one took over an abandoned claim while the first still ran.
                Some("payments_idempotency_key" | "refunds_idempotency_key") => {
                    return Self::Idempotency(IdempotencyError::InFlight);
                }
                _ => {}
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
            ApiError::PaymentNotFound => Problem::not_found("payment"),
            ApiError::OrderAlreadyPaid => Problem::conflict(
                "order-already-paid",
                "The order already has a payment that succeeded or is in progress.",
            ),
            ApiError::NotRefundable(detail) => Problem::conflict("not-refundable", detail),
            ApiError::Declined(payment) => {
                let reason = payment.failure_reason.as_deref().unwrap_or("declined");
                Problem::new(
                    StatusCode::PAYMENT_REQUIRED,
                    "payment-declined",
                    "Payment declined",
                )
                .with_detail(format!(
                    "The payment was declined ({reason}). Try another card with a new Idempotency-Key."
                ))
                .with_extension(
                    "payment",
                    serde_json::to_value(payment.as_ref()).unwrap_or_default(),
                )
            }
            ApiError::Gateway(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "gateway-error",
                "Payment gateway error",
            )
            .with_detail(
                "The payment gateway did not complete the request. Retry with the same \
                 Idempotency-Key: the card is charged at most once.",
            )
            .with_retry_after(1),
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
