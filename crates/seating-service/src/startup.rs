//! Building and running the app: the same path for `main` and for tests.

use std::collections::HashMap;

use anyhow::Context;
use axum::Router;
use service_kit::fleet::Fleet;
use service_kit::idempotency::IdempotencyStore;
use service_kit::messages::Service;
use service_kit::messages::inbox;
use service_kit::messages::outbox::{OutboxMetrics, Relay};
use service_kit::metrics::Metrics;
use service_kit::server::{self, Standard};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, SERVICE};
use crate::messages::SeatingConsumer;
use crate::state::{AppState, SeatingMetrics};
use crate::{routes, sweeper};

/// seating-service's embedded migrations.
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// The app and the background work that goes with it.
pub struct App {
    pub router: Router,
    pub relay: Relay,
    pub state: AppState,
}

/// Builds the router and the outbox relay over a migrated database.
pub fn build(config: &Config, pool: PgPool) -> App {
    let fleet = Fleet::new(&config.fleet);
    let metrics = Metrics::new(SERVICE);
    let state = AppState {
        pool: pool.clone(),
        // Longer than any request may run, so a live request's key is never taken over.
        idempotency: IdempotencyStore::new(pool.clone(), config.common.request_timeout * 2),
        hold_ttl: config.hold_ttl,
        metrics: SeatingMetrics::register(&metrics),
    };
    let relay = Relay::new(
        pool.clone(),
        Some(fleet.tokens.clone()),
        HashMap::from([(Service::Catalog, config.catalog_service_url.clone())]),
        OutboxMetrics::register(&metrics),
        config.relay,
    );
    let routes = routes::router(state.clone()).merge(inbox::router(pool.clone(), SeatingConsumer));
    let router = server::build(
        routes,
        Standard {
            service: SERVICE,
            version: env!("CARGO_PKG_VERSION"),
            pool,
            metrics,
            verifier: fleet.verifier,
            request_timeout: config.common.request_timeout,
        },
    );
    App {
        router,
        relay,
        state,
    }
}

/// Connects, migrates, and serves on `listener` until `shutdown`, with the relay and the sweeper
/// beside.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = connect(&config).await?;
    let app = build(&config, pool.clone());
    let stop = CancellationToken::new();
    let relay = tokio::spawn(app.relay.run(stop.clone()));
    let sweeper = tokio::spawn(sweeper::run(
        pool,
        app.state.metrics.clone(),
        app.state.idempotency.clone(),
        config.sweep_interval,
        stop.clone(),
    ));
    tracing::info!(address = %listener.local_addr()?, "seating-service listening");
    server::serve(listener, app.router, shutdown)
        .await
        .context("serving HTTP")?;
    stop.cancel();
    let _ = tokio::join!(relay, sweeper);
    tracing::info!("seating-service stopped");
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
