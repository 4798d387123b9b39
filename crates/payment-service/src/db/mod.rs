//! Queries, one module per table. The invariants are not here but in the migrations' constraints:
//! one live payment per order (`payments_one_success_per_order`), refunds made and pending within
//! the charge (`payments_refunded_within_amount`, `payments_refunds_within_amount`), a status that
//! agrees with the refunded amount (`payments_status_matches_refunds`), and refunds that add up to
//! the payment's amounts (`refunds_add_up`). The simulated gateway's table is its own
//! (`gateway::simulated`), not read here.

/// payment-service's embedded migrations (the kit applies its own first).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub mod attempts;
pub mod payments;
pub mod refunds;

// Read strictly: an unknown stored status fails the row, naming it (a 500), never a default.
service_kit::text_column!(crate::domain::PaymentStatus);
service_kit::text_column!(crate::domain::RefundStatus);
