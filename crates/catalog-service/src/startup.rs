//! Building and running the app: the same path for `main`, the CLI commands and tests.

use std::collections::HashMap;

use anyhow::Context;
use axum::Router;
use service_kit::fleet::Fleet;
use service_kit::messages::Service;
use service_kit::messages::inbox;
use service_kit::messages::outbox::{OutboxMetrics, Relay};
use service_kit::metrics::Metrics;
use service_kit::server::{self, Standard};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::clients::seating::SeatingClient;
use crate::config::{Config, SERVICE};
use crate::messages::CatalogConsumer;
use crate::routes;
use crate::state::AppState;

/// catalog-service's embedded migrations.
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct App {
    pub router: Router,
    pub relay: Relay,
    pub state: AppState,
}

/// The state without the HTTP parts (the CLI commands use it), and the fleet link it uses.
pub fn state(config: &Config, pool: PgPool) -> (AppState, Fleet) {
    let fleet = Fleet::new(&config.fleet);
    let seating = fleet.client(Service::Seating, &config.seating_service_url);
    let state = AppState {
        pool,
        seating: SeatingClient::new(seating),
    };
    (state, fleet)
}

pub fn build(config: &Config, pool: PgPool) -> App {
    let (state, fleet) = state(config, pool.clone());
    let metrics = Metrics::new(SERVICE);
    let relay = Relay::new(
        pool.clone(),
        Some(fleet.tokens.clone()),
        HashMap::from([(Service::Seating, config.seating_service_url.clone())]),
        OutboxMetrics::register(&metrics),
        config.relay,
    );
    let routes = routes::router(state.clone()).merge(inbox::router(pool.clone(), CatalogConsumer));
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

pub async fn connect(config: &Config) -> anyhow::Result<PgPool> {
    Ok(service_kit::db::connect_and_migrate(
        &config.common.database_url,
        config.common.db_max_connections,
        &MIGRATIONS,
    )
    .await?)
}

pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = connect(&config).await?;
    let app = build(&config, pool);
    let stop = CancellationToken::new();
    let relay = tokio::spawn(app.relay.run(stop.clone()));
    tracing::info!(address = %listener.local_addr()?, "catalog-service listening");
    server::serve(listener, app.router, shutdown)
        .await
        .context("serving HTTP")?;
    stop.cancel();
    let _ = relay.await;
    tracing::info!("catalog-service stopped");
    Ok(())
}
