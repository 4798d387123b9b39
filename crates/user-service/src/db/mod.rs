//! Queries, one module per table. Functions take an executor so callers choose the transaction.

/// user-service's embedded migrations (the kit applies its own first).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub mod login_failures;
pub mod refresh_tokens;
pub mod users;
