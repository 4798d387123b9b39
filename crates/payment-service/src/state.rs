//! What every handler can reach, and payment-service's own metrics.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{HistogramVec, IntCounter, IntCounterVec};
use service_kit::idempotency::IdempotencyStore;
use service_kit::metrics::Metrics;
use sqlx::PgPool;

use crate::gateway::Gateway;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub idempotency: IdempotencyStore,
    pub gateway: Arc<Gateway>,
    pub metrics: PaymentMetrics,
}

#[derive(Clone)]
pub struct PaymentMetrics {
    payments: IntCounterVec,
    failures: IntCounterVec,
    pub refunds: IntCounter,
    gateway_duration: HistogramVec,
}

impl PaymentMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        Self {
            payments: metrics.counter_vec(
                "payments_total",
                "Charges settled by the gateway, by resulting status (success, failed)",
                &["status"],
            ),
            failures: metrics.counter_vec(
                "payments_failed_total",
                "Charges that did not succeed, by reason (the decline code, or gateway_error)",
                &["reason"],
            ),
            refunds: metrics.counter("refunds_total", "Refunds made"),
            gateway_duration: metrics.histogram_vec(
                "payment_gateway_request_duration_seconds",
                "Time the payment gateway took to answer",
                &[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
                &["gateway", "operation"],
            ),
        }
    }

    /// A charge the gateway decided: `success` or `failed`.
    pub fn settled(&self, status: &str) {
        self.payments.with_label_values(&[status]).inc();
    }

    pub fn failed(&self, reason: &str) {
        self.failures.with_label_values(&[reason]).inc();
    }

    pub fn gateway_call(&self, gateway: &str, operation: &str, took: Duration) {
        self.gateway_duration
            .with_label_values(&[gateway, operation])
            .observe(took.as_secs_f64());
    }
}
