//! What every handler can reach, and seating's own metrics.

use std::sync::Arc;
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGauge};
use service_kit::idempotency::IdempotencyStore;
use service_kit::metrics::Metrics;
use service_kit::rate_limit::RateLimit;
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, SeatingError};
use crate::seatmap::SeatMaps;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub idempotency: IdempotencyStore,
    pub hold_ttl: Duration,
    /// Seats one holder may hold of one event at a time.
    pub max_held_seats: i64,
    /// Reserves per holder (none: unlimited).
    pub hold_rate: Option<Arc<RateLimit<Uuid>>>,
    pub metrics: SeatingMetrics,
    /// The seat maps, served from memory.
    pub seat_maps: SeatMaps,
}

#[derive(Clone)]
pub struct SeatingMetrics {
    reservations: IntCounterVec,
    failures: IntCounterVec,
    pub holds_active: IntGauge,
    pub expirations: IntCounter,
}

impl SeatingMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let this = Self {
            reservations: metrics.counter_vec(
                "seat_reservations_total",
                "Reserve requests by result (created, failed)",
                &["result"],
            ),
            failures: metrics.counter_vec(
                "seat_reservations_failed_total",
                "Failed reservations and allocations by reason (conflict, expired, not_on_sale, invalid, holder_limit, error)",
                &["reason"],
            ),
            holds_active: metrics.gauge("seat_holds_active", "Holds active right now"),
            expirations: metrics.counter(
                "seat_hold_expirations_total",
                "Holds marked expired by the sweeper",
            ),
        };
        // Every series exists from the start: a rate over them sees the first failure.
        for result in ["created", "failed"] {
            this.reservations.with_label_values(&[result]).inc_by(0);
        }
        for reason in [
            "conflict",
            "expired",
            "not_on_sale",
            "invalid",
            "holder_limit",
            "error",
        ] {
            this.failures.with_label_values(&[reason]).inc_by(0);
        }
        this
    }

    pub fn record_reservation<T>(&self, outcome: &ApiResult<T>) {
        let reason = match outcome {
            Ok(_) => {
                self.reservations.with_label_values(&["created"]).inc();
                return;
            }
            Err(ApiError::Service(SeatingError::SeatsTaken(_))) => "conflict",
            Err(ApiError::Service(SeatingError::NotOnSale)) => "not_on_sale",
            Err(ApiError::Service(SeatingError::HoldLimit { .. })) => "holder_limit",
            Err(ApiError::Validation(_) | ApiError::Service(SeatingError::EventNotFound)) => {
                "invalid"
            }
            Err(_) => "error",
        };
        self.reservations.with_label_values(&["failed"]).inc();
        self.failed(reason);
    }

    pub fn failed(&self, reason: &str) {
        self.failures.with_label_values(&[reason]).inc();
    }
}

/// The seat map's cache and stream.
#[derive(Clone)]
pub struct SeatMapMetrics {
    cache: IntCounterVec,
    pub subscribers: IntGauge,
    pub deltas_sent: IntCounter,
    pub lagged: IntCounter,
    pub refused: IntCounter,
}

impl SeatMapMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let this = Self {
            cache: metrics.counter_vec(
                "seatmap_cache_requests_total",
                "Seat map answers by how the cache served them (hit: from memory; checked: after comparing the version with the database; loaded: first read of the event)",
                &["result"],
            ),
            subscribers: metrics.gauge(
                "seatmap_subscribers",
                "Seat map stream subscribers connected to this process",
            ),
            deltas_sent: metrics.counter(
                "seatmap_deltas_sent_total",
                "Changes sent to seat map stream subscribers",
            ),
            lagged: metrics.counter(
                "seatmap_subscribers_dropped_total",
                "Seat map stream subscribers dropped because they fell too far behind",
            ),
            refused: metrics.counter(
                "seatmap_subscribers_refused_total",
                "Seat map stream subscriptions refused (503) at the limit per process",
            ),
        };
        for result in ["hit", "checked", "loaded"] {
            this.cache.with_label_values(&[result]).inc_by(0);
        }
        this
    }

    pub fn cache(&self, result: &str) {
        self.cache.with_label_values(&[result]).inc();
    }
}
