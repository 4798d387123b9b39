//! payment-service's own errors and their problem answers; the kit's [`service_kit::error`]
//! adds invalid fields, problems from elsewhere and internal errors.

use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::error::ServiceError;
use service_kit::idempotency::IdempotencyError;

use crate::api::PaymentView;
use crate::gateway::GatewayError;

pub type ApiError = service_kit::error::ApiError<PaymentError>;
pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
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
    /// 409: another request with the same key took over an abandoned claim meanwhile.
    #[error("request with this key in flight")]
    KeyInFlight,
}

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        Self::Service(e)
    }
}

impl ServiceError for PaymentError {
    fn problem(self) -> Problem {
        match self {
            Self::PaymentNotFound => Problem::not_found("payment"),
            Self::OrderAlreadyPaid => Problem::conflict(
                "order-already-paid",
                "The order already has a payment that succeeded or is in progress.",
            ),
            Self::NotRefundable(detail) => Problem::conflict("not-refundable", detail),
            Self::Declined(payment) => {
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
            Self::Gateway(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "gateway-error",
                "Payment gateway error",
            )
            .with_detail(
                "The payment gateway did not complete the request. Retry with the same \
                 Idempotency-Key: the card is charged at most once.",
            )
            .with_retry_after(1),
            Self::KeyInFlight => IdempotencyError::InFlight.into(),
        }
    }

    fn from_constraint(constraint: &str) -> Option<Self> {
        // A unique index reports its own name as the constraint.
        match constraint {
            "payments_one_success_per_order" => Some(Self::OrderAlreadyPaid),
            "payments_refunded_within_amount" | "payments_status_matches_refunds" => Some(
                Self::NotRefundable("The refunds would exceed the amount charged.".into()),
            ),
            // Requests with one key are serialised by the idempotency store; meeting another
            // here means one took over an abandoned claim while the first still ran.
            "payments_idempotency_key" | "refunds_idempotency_key" => Some(Self::KeyInFlight),
            _ => None,
        }
    }
}
