//! Queries, one module per table. They take and return their own types (rows, inputs, filters)
//! and the domain's values, never the API's JSON shapes: `api` maps.

/// catalog-service's embedded migrations (the kit applies its own first).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

use crate::domain::{EventStatus, EventType};

// Read strictly: an unknown stored value fails the row, naming it (a 500), never a default.
service_kit::text_column!(EventStatus);
service_kit::text_column!(EventType);

pub mod events;
pub mod seats;
pub mod venues;

/// The part of a list one page asks for.
#[derive(Debug, Clone, Copy)]
pub struct Slice {
    pub limit: i64,
    pub offset: i64,
}
