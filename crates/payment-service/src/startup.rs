//! payment-service as the kit runs it. It neither sends nor receives messages, and calls no
//! other service: only the card gateway.

use std::sync::Arc;

use service_kit::app::{Assembly, Identity, Kit, Service};
use service_kit::fleet;

use crate::Payments;
use crate::config::Config;
use crate::db::MIGRATIONS;
use crate::gateway::Gateway;
use crate::routes;
use crate::state::{AppState, PaymentMetrics};

impl Service for Payments {
    const WHO: Identity = Identity::new(fleet::Service::Payment, &MIGRATIONS);

    type Config = Config;
    type State = AppState;

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
