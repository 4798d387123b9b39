//! What every handler can reach.

use std::net::IpAddr;
use std::sync::Arc;

use prometheus::{IntCounter, IntCounterVec};
use service_kit::metrics::Metrics;
use service_kit::rate_limit::RateLimit;
use sqlx::PgPool;

use crate::config::{ServiceClient, Throttle};
use crate::keys::SigningKey;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub key: Arc<SigningKey>,
    pub clients: Arc<[ServiceClient]>,
    pub throttle: Throttle,
    /// Registrations per client address (none: unlimited).
    pub registrations: Option<Arc<RateLimit<IpAddr>>>,
    pub metrics: UserMetrics,
}

/// user-service's own metrics, beside the kit's HTTP metrics.
#[derive(Clone)]
pub struct UserMetrics {
    pub logins: IntCounterVec,
    pub registrations: IntCounter,
}

impl UserMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let this = Self {
            logins: metrics.counter_vec(
                "user_logins_total",
                "Login attempts by result",
                &["result"],
            ),
            registrations: metrics.counter("user_registrations_total", "Accounts created"),
        };
        // Every series exists from the start: dashboards and alerts see zeros, not gaps.
        for result in ["success", "failure", "throttled"] {
            this.logins.with_label_values(&[result]).inc_by(0);
        }
        this
    }
}
