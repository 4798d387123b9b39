//! payment-service as the kit runs it. It neither sends nor receives messages, and calls no
//! other service: only the card gateway.

use std::sync::Arc;

use service_kit::app::{Assembly, Kit, Service};
use service_kit::config::{ConfigError, Env, ports};
use service_kit::fleet::{Auth, Links};
use sqlx::migrate::Migrator;

use crate::config::Config;
use crate::gateway::Gateway;
use crate::routes;
use crate::state::{AppState, PaymentMetrics};

/// payment-service's embedded migrations.
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Payments;

impl Service for Payments {
    const NAME: &'static str = crate::config::SERVICE;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Charges, refunds and payments of the ticketing fleet.";
    const PORT: u16 = ports::PAYMENT;
    const DATABASE: &'static str = "payments";
    const LINKS: Links = Links {
        auth: Auth::Jwks,
        calls: &[],
        produces: &[],
    };

    type Config = Config;
    type State = AppState;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    fn config(env: &mut Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    async fn assemble(kit: &Kit<Config>) -> anyhow::Result<Assembly<AppState>> {
        let gateway = Gateway::from_config(&kit.config.gateway);
        if gateway.as_simulated().is_some() {
            tracing::warn!(
                "PAYMENT_GATEWAY=simulated: no money moves; test tokens decide every outcome"
            );
        }
        let state = AppState {
            pool: kit.pool.clone(),
            idempotency: kit.idempotency.clone(),
            gateway: Arc::new(gateway),
            metrics: PaymentMetrics::register(&kit.metrics),
        };
        Ok(Assembly::new(state.clone(), routes::router(state)))
    }
}
