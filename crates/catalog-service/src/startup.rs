//! catalog-service as the kit runs it: it calls seating (to publish), produces
//! `event.cancelled`, and consumes seating's sold-out notices.

use service_kit::app::{Assembly, Kit, Service};
use service_kit::config::{ConfigError, Env, ports};
use service_kit::fleet::{self, Auth, Links};
use service_kit::messages::types;
use sqlx::migrate::Migrator;

use crate::clients::seating::SeatingClient;
use crate::config::Config;
use crate::messages::CatalogConsumer;
use crate::state::AppState;
use crate::{commands, routes};

/// catalog-service's embedded migrations.
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Catalog;

impl Service for Catalog {
    const NAME: &'static str = crate::config::SERVICE;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Venues, events and seats of the ticketing fleet.";
    const PORT: u16 = ports::CATALOG;
    const DATABASE: &'static str = "catalog";
    const LINKS: Links = Links {
        auth: Auth::Jwks,
        calls: &[fleet::Service::Seating],
        produces: &[types::EVENT_CANCELLED],
    };
    const COMMANDS: &'static str = commands::USAGE;

    type Config = Config;
    type State = AppState;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    fn config(env: &mut Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    async fn assemble(kit: &Kit<Config>) -> anyhow::Result<Assembly<AppState>> {
        let state = state(kit)?;
        Ok(Assembly::new(state.clone(), routes::router(state))
            .consumer(kit.pool.clone(), CatalogConsumer))
    }

    async fn command(kit: &Kit<Config>, args: &[String]) -> anyhow::Result<()> {
        commands::run(kit, args).await
    }
}

/// What the handlers and the commands reach.
pub fn state(kit: &Kit<Config>) -> anyhow::Result<AppState> {
    Ok(AppState {
        pool: kit.pool.clone(),
        seating: SeatingClient::new(kit.fleet.client(fleet::Service::Seating)?),
    })
}
