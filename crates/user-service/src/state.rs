//! What every handler can reach.

use std::sync::Arc;

use prometheus::{IntCounter, IntCounterVec, Opts};
use service_kit::metrics::Metrics;
use sqlx::PgPool;

use crate::config::{ServiceClient, Throttle};
use crate::keys::SigningKey;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub key: Arc<SigningKey>,
    pub clients: Arc<[ServiceClient]>,
    pub throttle: Throttle,
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
        Self {
            logins: metrics.register(
                IntCounterVec::new(
                    Opts::new("user_logins_total", "Login attempts by result"),
                    &["result"],
                )
                .expect("static metric definition"),
            ),
            registrations: metrics.register(
                IntCounter::new("user_registrations_total", "Accounts created")
                    .expect("static metric definition"),
            ),
        }
    }
}
