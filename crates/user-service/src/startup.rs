//! Building and running the app: the same path for `main` and for tests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use service_kit::auth::TokenVerifier;
use service_kit::metrics::Metrics;
use service_kit::server::{self, Standard};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, SERVICE};
use crate::db::{login_failures, refresh_tokens};
use crate::state::{AppState, UserMetrics};
use crate::{accounts, keys, routes};

/// user-service's embedded migrations.
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// Loads the signing key, creates the admin when configured, and builds the router.
/// Expects a migrated database.
pub async fn build(config: &Config, pool: PgPool) -> anyhow::Result<Router> {
    let key = Arc::new(keys::load(config.signing_key_pem.as_ref(), &pool).await?);
    if let Some(admin) = &config.admin {
        accounts::bootstrap_admin(&pool, admin).await?;
    }
    let metrics = Metrics::new(SERVICE);
    // user-service verifies its own tokens with the key it holds, not over HTTP.
    let verifier = Arc::new(TokenVerifier::with_keys(HashMap::from([(
        key.kid().to_owned(),
        key.decoding_key(),
    )])));
    let state = AppState {
        pool: pool.clone(),
        key,
        clients: config.service_clients.clone().into(),
        throttle: config.throttle,
        metrics: UserMetrics::register(&metrics),
    };
    Ok(server::build(
        routes::router(state),
        Standard {
            service: SERVICE,
            version: env!("CARGO_PKG_VERSION"),
            pool,
            metrics,
            verifier,
            request_timeout: config.common.request_timeout,
        },
    ))
}

/// Connects, migrates, serves on `listener` until `shutdown`, with the housekeeping task beside.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let pool = service_kit::db::connect_and_migrate(
        &config.common.database_url,
        config.common.db_max_connections,
        &MIGRATIONS,
    )
    .await?;
    let app = build(&config, pool.clone()).await?;
    let stop = CancellationToken::new();
    let housekeeping = tokio::spawn(housekeeping(pool, config.throttle.window, stop.clone()));
    tracing::info!(address = %listener.local_addr()?, "user-service listening");
    server::serve(listener, app, shutdown)
        .await
        .context("serving HTTP")?;
    stop.cancel();
    let _ = housekeeping.await;
    tracing::info!("user-service stopped");
    Ok(())
}

/// Deletes what nobody needs any more: old login failures and long-expired refresh tokens.
async fn housekeeping(pool: PgPool, throttle_window: Duration, stop: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        if let Err(e) = login_failures::purge_older_than(&pool, throttle_window * 2).await {
            tracing::warn!(error = %e, "purging login failures failed");
        }
        if let Err(e) = refresh_tokens::purge_expired(&pool).await {
            tracing::warn!(error = %e, "purging refresh tokens failed");
        }
    }
}
