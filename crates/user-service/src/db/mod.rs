//! Queries, one module per table. Functions take an executor so callers choose the transaction.

pub mod login_failures;
pub mod refresh_tokens;
pub mod users;
