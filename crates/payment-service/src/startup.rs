//! Building and running the app: the same path for `main` and for tests.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use service_kit::client::http_client;
use service_kit::idempotency::IdempotencyStore;
use service_kit::metrics::Metrics;
use service_kit::server::{self, Standard};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;

use crate::config::{Config, SERVICE};
use crate::gateway::Gateway;
use crate::routes;
use crate::state::{AppState, PaymentMetrics};

/// payment-service's embedded migrations.
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Idempotency keys are kept at least this long (the contract says 24 h). Payments themselves
/// keep their key forever, so a charge retried even later still finds its payment.
const KEY_RETENTION: Duration = Duration::from_secs(24 * 3600);
const KEY_PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// The app, and its state for tests (the simulated gateway's counters).
pub struct App {
    pub router: Router,
    pub state: AppState,
}

/// Builds the router over a migrated database.
pub fn build(config: &Config, pool: PgPool) -> App {
    let http = http_client(Duration::from_secs(10));
    let metrics = Metrics::new(SERVICE);
    let verifier = service_kit::fleet::verifier(&config.user_service_url, http);
    let state = AppState {
        pool: pool.clone(),
        // Longer than any request may run, so a live request's key is never taken over.
        idempotency: IdempotencyStore::new(pool.clone(), config.common.request_timeout * 2),
        gateway: Arc::new(Gateway::from_config(&config.gateway)),
        metrics: PaymentMetrics::register(&metrics),
    };
    let router = server::build(
        routes::router(state.clone()),
        Standard {
            service: SERVICE,
            version: env!("CARGO_PKG_VERSION"),
            pool,
            metrics,
            verifier,
            request_timeout: config.common.request_timeout,
        },
    );
    App { router, state }
}

/// Connects, migrates, and serves on `listener` until `shutdown`, purging old idempotency keys
/// beside. payment-service neither sends nor receives messages: no relay, no inbox.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = connect(&config).await?;
    let app = build(&config, pool);
    let gateway = app.state.gateway.name();
    if app.state.gateway.as_simulated().is_some() {
        tracing::warn!(
            "PAYMENT_GATEWAY=simulated: no money moves; test tokens decide every outcome"
        );
    }
    let purge = tokio::spawn(purge_keys(app.state.idempotency.clone()));
    tracing::info!(address = %listener.local_addr()?, gateway, "payment-service listening");
    server::serve(listener, app.router, shutdown)
        .await
        .context("serving HTTP")?;
    // The purge holds nothing worth finishing: a cut-short purge is redone by the next start.
    purge.abort();
    tracing::info!("payment-service stopped");
    Ok(())
}

pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    Ok(service_kit::db::connect_and_migrate(
        &config.common.database_url,
        config.common.db_max_connections,
        &MIGRATIONS,
    )
    .await?)
}

async fn purge_keys(idempotency: IdempotencyStore) {
    let mut tick = tokio::time::interval(KEY_PURGE_INTERVAL);
    loop {
        tick.tick().await;
        match idempotency.purge_older_than(KEY_RETENTION).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "old idempotency keys purged"),
            Err(e) => tracing::warn!(error = %e, "idempotency purge failed"),
        }
    }
}
