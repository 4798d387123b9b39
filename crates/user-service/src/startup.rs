//! user-service as the kit runs it: the issuer of the fleet's tokens, with its housekeeping.

use std::collections::HashMap;
use std::sync::Arc;

use service_kit::app::{Assembly, Identity, Kit, Service};
use service_kit::auth::TokenVerifier;
use service_kit::fleet;
use service_kit::rate_limit::RateLimit;
use service_kit::tasks::Task;

use crate::Users;
use crate::config::Config;
use crate::db::MIGRATIONS;
use crate::db::{login_failures, refresh_tokens};
use crate::state::{AppState, UserMetrics};
use crate::{accounts, keys, routes};

/// How often old login failures and long-expired refresh tokens are deleted.
const HOUSEKEEPING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

impl Service for Users {
    const WHO: Identity = Identity::new(fleet::Service::User, &MIGRATIONS);

    type Config = Config;
    type State = AppState;

    /// Loads the signing key, creates the admin when configured, and builds the rest.
    async fn assemble(kit: &Kit<Config>) -> anyhow::Result<Assembly<AppState>> {
        let config = &kit.config;
        let key = Arc::new(keys::load(config.signing_key_pem.as_ref(), &kit.pool).await?);
        if let Some(admin) = &config.admin {
            accounts::bootstrap_admin(&kit.pool, admin).await?;
        }
        // user-service verifies its own tokens with the key it holds, not over HTTP.
        let verifier = Arc::new(TokenVerifier::with_keys(HashMap::from([(
            key.kid().to_owned(),
            key.decoding_key(),
        )])));
        let state = AppState {
            pool: kit.pool.clone(),
            key,
            clients: config.service_clients.clone().into(),
            throttle: config.throttle,
            registrations: RateLimit::new(
                "registrations from this address",
                config.registrations_per_minute,
                config.registrations_burst,
            )
            .map(Arc::new),
            metrics: UserMetrics::register(&kit.metrics),
        };
        let (pool, window) = (kit.pool.clone(), config.throttle.window);
        let housekeeping = Task::periodic("housekeeping", HOUSEKEEPING_INTERVAL, move || {
            let pool = pool.clone();
            async move {
                login_failures::purge_older_than(&pool, window * 2).await?;
                refresh_tokens::purge_expired(&pool).await?;
                Ok(())
            }
        });
        Ok(Assembly::new(state.clone(), routes::router(state))
            .verifier(verifier)
            .task(housekeeping))
    }
}
