//! user-service as the kit runs it: the issuer of the fleet's tokens, with its housekeeping.

use std::collections::HashMap;
use std::sync::Arc;

use service_kit::app::{Assembly, Kit, Service};
use service_kit::auth::TokenVerifier;
use service_kit::config::{ConfigError, Env, ports};
use service_kit::fleet::{Auth, Links};
use service_kit::tasks::Task;
use sqlx::migrate::Migrator;

use crate::config::Config;
use crate::db::{login_failures, refresh_tokens};
use crate::state::{AppState, UserMetrics};
use crate::{accounts, keys, routes};

/// user-service's embedded migrations.
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

/// How often old login failures and long-expired refresh tokens are deleted.
const HOUSEKEEPING_INTERVAL: std::time::Duration = std::time::Duration::from_secs(600);

pub struct Users;

impl Service for Users {
    const NAME: &'static str = crate::config::SERVICE;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Accounts, sessions and tokens of the ticketing fleet.";
    const PORT: u16 = ports::USER;
    const DATABASE: &'static str = "users";
    const LINKS: Links = Links {
        auth: Auth::Issuer,
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
