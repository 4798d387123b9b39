//! seating-service as the kit runs it: what it is, what it links to, what it is made of.

use service_kit::app::{Assembly, Kit, Service};
use service_kit::config::{ConfigError, Env, ports};
use service_kit::fleet::{Auth, Links};
use service_kit::messages::types;
use service_kit::tasks::Task;
use sqlx::migrate::Migrator;

use crate::config::Config;
use crate::messages::SeatingConsumer;
use crate::state::{AppState, SeatingMetrics};
use crate::{routes, sweeper};

/// seating-service's embedded migrations.
pub static MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

pub struct Seating;

impl Service for Seating {
    const NAME: &'static str = crate::config::SERVICE;
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Seat availability and holds of the ticketing fleet.";
    const PORT: u16 = ports::SEATING;
    const DATABASE: &'static str = "seating";
    const LINKS: Links = Links {
        auth: Auth::Jwks,
        calls: &[],
        produces: &[types::SEATING_SOLD_OUT, types::SEATING_AVAILABLE],
    };

    type Config = Config;
    type State = AppState;

    fn migrations() -> &'static Migrator {
        &MIGRATIONS
    }

    fn config(env: &mut Env) -> Result<Config, ConfigError> {
        Config::from_env(env)
    }

    async fn assemble(kit: &Kit<Config>) -> anyhow::Result<Assembly<AppState>> {
        let state = AppState {
            pool: kit.pool.clone(),
            idempotency: kit.idempotency.clone(),
            hold_ttl: kit.config.hold_ttl,
            metrics: SeatingMetrics::register(&kit.metrics),
        };
        let sweeper = {
            let (pool, metrics) = (state.pool.clone(), state.metrics.clone());
            Task::periodic("hold-sweeper", kit.config.sweep_interval, move || {
                let (pool, metrics) = (pool.clone(), metrics.clone());
                async move {
                    sweeper::sweep_once(&pool, &metrics).await?;
                    Ok(())
                }
            })
        };
        Ok(Assembly::new(state.clone(), routes::router(state))
            .consumer(kit.pool.clone(), SeatingConsumer)
            .task(sweeper))
    }
}
