//! What every handler can reach, and payment-service's own metrics.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{GaugeVec, HistogramVec, IntCounter, IntCounterVec, Opts};
use service_kit::idempotency::IdempotencyStore;
use service_kit::metrics::Metrics;
use sqlx::PgPool;

use crate::config::ReconcilePolicy;
use crate::gateway::Gateway;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub idempotency: IdempotencyStore,
    pub gateway: Arc<Gateway>,
    pub metrics: PaymentMetrics,
    /// What the reconciler's rounds follow.
    pub reconcile: ReconcilePolicy,
}

/// What the reconciler looks at: a charge or a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Charge,
    Refund,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::Refund => "refund",
        }
    }
}

#[derive(Clone)]
pub struct PaymentMetrics {
    payments: IntCounterVec,
    failures: IntCounterVec,
    pub refunds: IntCounter,
    gateway_duration: HistogramVec,
    reconciled: IntCounterVec,
    oldest_pending: GaugeVec,
}

impl PaymentMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let registered = Self {
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
            reconciled: metrics.counter_vec(
                "payment_reconciled_total",
                "PENDING charges and refunds the reconciler asked the gateway about, by kind \
                 (charge, refund) and outcome (succeeded, declined, not_found: settled; \
                 undecided, gateway_error: asked again later; superseded: settled meanwhile by \
                 a live attempt or another replica)",
                &["kind", "outcome"],
            ),
            oldest_pending: metrics.register(
                GaugeVec::new(
                    Opts::new(
                        "payment_oldest_pending_age_seconds",
                        "Age of the oldest PENDING charge or refund, by kind (0 when none): money \
                         whose fate is not on record yet. Updated by every reconciler round",
                    ),
                    &["kind"],
                )
                .expect("static metric definition"),
            ),
        };
        // Exported from the start, so that an alert on them has a series before the first round,
        // and a rate over them sees the first event rather than a series appearing at 1.
        for kind in [Kind::Charge, Kind::Refund] {
            registered.oldest_pending(kind, 0.0);
        }
        for status in ["success", "failed"] {
            registered.payments.with_label_values(&[status]).inc_by(0);
        }
        for reason in ["gateway_error", "not_at_gateway"] {
            registered.failures.with_label_values(&[reason]).inc_by(0);
        }
        registered
    }

    /// An item the reconciler asked about, and what came of it.
    pub fn reconciled(&self, kind: Kind, outcome: &str) {
        self.reconciled
            .with_label_values(&[kind.as_str(), outcome])
            .inc();
    }

    pub fn oldest_pending(&self, kind: Kind, seconds: f64) {
        self.oldest_pending
            .with_label_values(&[kind.as_str()])
            .set(seconds);
    }

    /// A charge the gateway decided: `success` or `failed`.
    pub fn settled(&self, status: &str) {
        self.payments.with_label_values(&[status]).inc();
    }

    pub fn failed(&self, reason: &str) {
        self.failures.with_label_values(&[reason]).inc();
    }

    /// Every gateway call: `charge`, `refund`, `charge_lookup`, `refund_lookup`.
    pub fn gateway_call(&self, gateway: &str, operation: &str, took: Duration) {
        self.gateway_duration
            .with_label_values(&[gateway, operation])
            .observe(took.as_secs_f64());
    }
}
