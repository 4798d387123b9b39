//! Queries, one module per table. Rows are read into their types strictly (a type or status
//! outside its enum is an error naming the value).

/// notification-service's embedded migrations (the kit applies its own first).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub mod notifications;
