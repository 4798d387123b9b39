//! The storefront: the web face of the fleet for buyers, organizers and the door.
//!
//! A backend-for-frontend. It renders HTML on the server ([`render`], templates in
//! `templates/`), calls the services' public APIs with the visitor's own token ([`client`]),
//! keeps that token in an encrypted cookie ([`session`]: no database), and ships its CSS and
//! scripts from the binary ([`assets`]). The pages live in [`pages`], one module per part of
//! the shop; [`seatmap`] draws seating's compact map, which the page's script keeps live
//! through the seat map's stream, relayed from seating. What every visitor's event page
//! shares (the event, the statuses, the drawn seat rows) is kept for a moment ([`recent`])
//! and compressed once ([`gzip`]): an on-sale's crowd costs little more than the data.

pub mod assets;
pub mod client;
pub mod config;
pub mod error;
pub mod gzip;
pub mod pages;
pub mod recent;
pub mod render;
pub mod seatmap;
pub mod session;
pub mod state;

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use service_kit::auth::TokenVerifier;
use service_kit::metrics::Metrics;
use service_kit::server::{self, Standard};
use service_kit::tasks::TaskHealth;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use state::AppState;

pub const NAME: &str = "storefront";

/// The whole app: pages, assets, the seat map relay, probes, `/metrics` and the kit's layers.
/// `closing` ends the relayed streams (cancel it when the server is asked to stop).
pub fn app(config: &Config, closing: CancellationToken) -> Router {
    let state = AppState {
        fleet: client::Fleet::new(config),
        seat_maps: seatmap::SeatMaps::new(config.seat_map_refresh),
        events: Arc::new(recent::Recent::new(4096, config.seat_map_refresh)),
        cookie_key: config.cookie_key.clone(),
        secure_cookies: config.secure_cookies,
        closing,
    };
    let routes = pages::router(state);
    server::build_with_fallback(
        routes,
        Standard {
            service: NAME,
            version: service_kit::app::VERSION,
            pool: None,
            metrics: Metrics::new(NAME),
            // The storefront verifies no token itself: the services do, on every call.
            verifier: Arc::new(TokenVerifier::with_keys(HashMap::new())),
            request_timeout: config.request_timeout,
            tasks: TaskHealth::default(),
            trusted_proxies: config.trusted_proxies.clone(),
        },
        pages::not_found,
    )
}

/// `main`: configuration, logs, serve until SIGTERM.
pub async fn main() -> anyhow::Result<()> {
    let mut env = service_kit::config::Env::from_process().context("configuration")?;
    let config = Config::from_env(&mut env).context("configuration")?;
    service_kit::telemetry::init(config.log_format);
    env.warn_about_defaults(NAME);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", config.port))
        .await
        .with_context(|| format!("binding port {}", config.port))?;
    tracing::info!(address = %listener.local_addr()?, "storefront listening");
    let closing = CancellationToken::new();
    let shutdown = {
        let closing = closing.clone();
        async move {
            server::shutdown_signal().await;
            closing.cancel();
        }
    };
    server::serve(listener, app(&config, closing), shutdown)
        .await
        .context("serving HTTP")?;
    tracing::info!("storefront stopped");
    Ok(())
}
