//! catalog-service as the kit runs it: it calls seating (to publish), produces
//! `event.cancelled`, and consumes seating's sold-out notices.

use service_kit::app::{Assembly, Identity, Kit, Service};
use service_kit::fleet;

use crate::Catalog;
use crate::clients::seating::SeatingClient;
use crate::db::MIGRATIONS;
use crate::messages::CatalogConsumer;
use crate::state::AppState;
use crate::{commands, routes};

impl Service for Catalog {
    const WHO: Identity = Identity::new(fleet::Service::Catalog, &MIGRATIONS);
    const COMMANDS: &'static str = commands::USAGE;

    type Config = ();
    type State = AppState;

    async fn assemble(kit: &Kit<()>) -> anyhow::Result<Assembly<AppState>> {
        let state = state(kit)?;
        Ok(Assembly::new(state.clone(), routes::router(state))
            .consumer(kit.pool.clone(), CatalogConsumer))
    }

    async fn command(kit: &Kit<()>, args: &[String]) -> anyhow::Result<()> {
        commands::run(kit, args).await
    }
}

/// What the handlers and the commands reach.
pub fn state(kit: &Kit<()>) -> anyhow::Result<AppState> {
    Ok(AppState {
        pool: kit.pool.clone(),
        seating: SeatingClient::new(kit.fleet.client(fleet::Service::Seating)?),
    })
}
