//! Queries, one module per table. Rows are read into their types strictly (a status outside
//! its type is an error naming the value).

/// order-service's embedded migrations (the kit applies its own first).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub mod cancellations;
pub mod orders;
pub mod tickets;
