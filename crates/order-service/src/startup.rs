//! order-service as the kit runs it: it calls catalog, user, seating and payment, produces the
//! `order.*` messages, consumes `event.cancelled`, and runs the expiry, recovery and
//! event-cancellation tasks.

use std::sync::Arc;

use service_kit::app::{Assembly, Identity, Kit, Service};
use service_kit::fleet;
use service_kit::rate_limit::RateLimit;
use service_kit::tasks::Task;

use crate::Orders;
use crate::clients::catalog::CatalogClient;
use crate::clients::payment::PaymentClient;
use crate::clients::seating::SeatingClient;
use crate::clients::users::UsersClient;
use crate::config::Config;
use crate::db::MIGRATIONS;
use crate::messages::OrderConsumer;
use crate::state::{AppState, OrderMetrics};
use crate::tickets::TicketSigner;
use crate::{routes, workers};

impl Service for Orders {
    const WHO: Identity = Identity::new(fleet::Service::Order, &MIGRATIONS);

    type Config = Config;
    type State = AppState;

    async fn assemble(kit: &Kit<Config>) -> anyhow::Result<Assembly<AppState>> {
        let config = &kit.config;
        let key = service_kit::signing::load(
            config.ticket_signing_key.as_ref(),
            &kit.pool,
            "ticket_signing_key",
        )
        .await?;
        let state = AppState {
            pool: kit.pool.clone(),
            idempotency: kit.idempotency.clone(),
            catalog: CatalogClient::new(kit.fleet.client(fleet::Service::Catalog)?),
            users: UsersClient::new(kit.fleet.client(fleet::Service::User)?),
            seating: SeatingClient(kit.fleet.client(fleet::Service::Seating)?),
            payment: PaymentClient(kit.fleet.client(fleet::Service::Payment)?),
            signer: Arc::new(TicketSigner::new(key)),
            metrics: OrderMetrics::register(&kit.metrics),
            step_lease: config.step_lease,
            order_rate: RateLimit::new(
                "orders by this buyer",
                config.orders_per_minute,
                config.orders_burst,
            )
            .map(Arc::new),
        };
        let expiry = periodic(
            &state,
            "order-expiry",
            config.expiry_interval,
            |state| async move { workers::expire_due(&state).await.map(drop) },
        );
        let recovery = periodic(
            &state,
            "saga-recovery",
            config.recovery_interval,
            |state| async move { workers::recover_stalled(&state).await.map(drop) },
        );
        let (batch, concurrency) = (config.cancellation_batch, config.cancellation_concurrency);
        let cancellations = periodic(
            &state,
            "event-cancellations",
            config.recovery_interval,
            move |state| async move { workers::undo_cancelled_events(&state, batch, concurrency).await },
        );
        Ok(Assembly::new(state.clone(), routes::router(state))
            .consumer(kit.pool.clone(), OrderConsumer)
            .task(expiry)
            .task(recovery)
            .task(cancellations))
    }
}

/// A periodic task over the state.
fn periodic<F, Fut>(
    state: &AppState,
    name: &'static str,
    every: std::time::Duration,
    round: F,
) -> Task
where
    F: Fn(AppState) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let state = state.clone();
    Task::periodic(name, every, move || round(state.clone()))
}
