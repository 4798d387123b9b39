//! payment-service's own errors and their problem answers; the kit's [`service_kit::error`]
//! adds invalid fields, problems from elsewhere and internal errors.

use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::error::ServiceError;
use service_kit::idempotency::IdempotencyError;

use crate::api::PaymentView;
use crate::gateway::GatewayError;

service_kit::service_error!(PaymentError);

#[derive(Debug)]
pub enum PaymentError {
    /// 404: no such payment, or not the caller's.
    PaymentNotFound,
    /// 409: the order has a payment that succeeded or is in progress.
    OrderAlreadyPaid,
    /// 409: the payment's status or remaining amount does not allow this refund.
    NotRefundable(String),
    /// 402: the card was declined; the FAILED payment goes with the problem.
    Declined(Box<PaymentView>),
    /// 502: the gateway did not decide a charge; the payment stays PENDING and retryable.
    Gateway(GatewayError),
    /// 502: the gateway did not answer a refund; the refund stays PENDING, resumed by a retry with
    /// the same key or settled by the reconciler.
    RefundPending(GatewayError),
    /// 409: another request with the same key took over an abandoned claim meanwhile.
    KeyInFlight,
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
                .with_value("payment", payment.as_ref())
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
            Self::RefundPending(_) => Problem::new(
                StatusCode::BAD_GATEWAY,
                "gateway-error",
                "Payment gateway error",
            )
            .with_detail(
                "The payment gateway did not answer the refund, which is recorded as pending and \
                 holds its amount. Retry with the same Idempotency-Key: it is made at most once. \
                 Left alone, it is settled with the gateway within minutes.",
            )
            .with_retry_after(1),
            Self::KeyInFlight => IdempotencyError::InFlight.into(),
        }
    }

    fn from_constraint(constraint: &str) -> Option<Self> {
        // A unique index reports its own name as the constraint.
        match constraint {
            "payments_one_success_per_order" => Some(Self::OrderAlreadyPaid),
            "payments_refunded_within_amount"
            | "payments_refunds_within_amount"
            | "payments_status_matches_refunds"
            | "payments_reserved_only_when_refundable" => Some(Self::NotRefundable(
                "The refunds would exceed the amount charged.".into(),
            )),
            // Requests with one key are serialised by the idempotency store; meeting another
            // here means one took over an abandoned claim while the first still ran.
            "payments_idempotency_key" | "refunds_idempotency_key" => Some(Self::KeyInFlight),
            _ => None,
        }
    }
}
