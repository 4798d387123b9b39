//! payment-service as the kit runs it. It neither sends nor receives messages, and calls no
//! other service: only the card gateway. Its one task is the reconciler.

use std::sync::Arc;

use service_kit::app::{Assembly, Identity, Kit, Service};
use service_kit::fleet;
use service_kit::tasks::Task;

use crate::Payments;
use crate::config::Config;
use crate::db::MIGRATIONS;
use crate::gateway::Gateway;
use crate::state::{AppState, PaymentMetrics};
use crate::{reconciler, routes};

impl Service for Payments {
    const WHO: Identity = Identity::new(fleet::Service::Payment, &MIGRATIONS);

    type Config = Config;
    type State = AppState;

    async fn assemble(kit: &Kit<Config>) -> anyhow::Result<Assembly<AppState>> {
        let policy = kit.config.reconcile;
        // A request still at the gateway when the reconciler asks could be told "never seen"
        // and charge afterwards: the window must outlast any request.
        anyhow::ensure!(
            policy.after > kit.common.request_timeout,
            "PAYMENT_RECONCILE_AFTER_SECONDS ({}) must be longer than REQUEST_TIMEOUT_SECONDS ({})",
            policy.after.as_secs(),
            kit.common.request_timeout.as_secs()
        );
        let gateway = Gateway::from_config(&kit.config.gateway, kit.pool.clone());
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
            reconcile: policy,
        };
        let reconciling = state.clone();
        let reconciler = Task::periodic("payment-reconciler", policy.interval, move || {
            let state = reconciling.clone();
            async move { reconciler::round(&state).await.map(drop) }
        });
        Ok(Assembly::new(state.clone(), routes::router(state)).task(reconciler))
    }
}
