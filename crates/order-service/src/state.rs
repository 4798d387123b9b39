//! What every handler and task can reach, and order-service's own metrics.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{HistogramVec, IntCounterVec};
use service_kit::idempotency::IdempotencyStore;
use service_kit::metrics::Metrics;
use service_kit::rate_limit::RateLimit;
use sqlx::PgPool;
use uuid::Uuid;

use crate::clients::catalog::CatalogClient;
use crate::clients::payment::PaymentClient;
use crate::clients::seating::SeatingClient;
use crate::clients::users::UsersClient;
use crate::domain::{Compensation, OrderStatus, Step};
use crate::tickets::TicketSigner;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub idempotency: IdempotencyStore,
    pub catalog: CatalogClient,
    pub users: UsersClient,
    pub seating: SeatingClient,
    pub payment: PaymentClient,
    pub signer: Arc<TicketSigner>,
    pub metrics: OrderMetrics,
    /// A step not moved for this long may be taken over (its driver died).
    pub step_lease: Duration,
    /// New orders per buyer (none: unlimited).
    pub order_rate: Option<Arc<RateLimit<Uuid>>>,
}

#[derive(Clone)]
pub struct OrderMetrics {
    orders: IntCounterVec,
    steps: HistogramVec,
    compensated: IntCounterVec,
}

impl OrderMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let this = Self {
            orders: metrics.counter_vec(
                "orders_total",
                "Orders that reached a status (PENDING_PAYMENT, CONFIRMED, ...)",
                &["status"],
            ),
            steps: metrics.histogram_vec(
                "order_saga_step_duration_seconds",
                "Time a saga step's call to another service took, by step",
                &[
                    0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
                &["step"],
            ),
            compensated: metrics.counter_vec(
                "orders_compensated_total",
                "Orders undone (released, refunded), by reason",
                &["reason"],
            ),
        };
        // Every series exists from the start, so dashboards and alerts see zeros, not gaps.
        for status in OrderStatus::ALL {
            if status != OrderStatus::Reserving {
                this.orders.with_label_values(&[status.as_str()]).inc_by(0);
            }
        }
        for reason in Compensation::ALL {
            this.compensated
                .with_label_values(&[reason.as_str()])
                .inc_by(0);
        }
        for step in Step::ALL {
            this.steps.with_label_values(&[step.as_str()]);
        }
        this
    }

    pub fn reached(&self, status: OrderStatus) {
        self.orders.with_label_values(&[status.as_str()]).inc();
    }

    pub fn step_took(&self, step: Step, took: Duration) {
        self.steps
            .with_label_values(&[step.as_str()])
            .observe(took.as_secs_f64());
    }

    pub fn compensated(&self, why: Compensation) {
        self.compensated.with_label_values(&[why.as_str()]).inc();
    }
}
