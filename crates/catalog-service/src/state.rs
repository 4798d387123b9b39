//! What every handler can reach.

use sqlx::PgPool;

use crate::clients::seating::SeatingClient;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub seating: SeatingClient,
}
