//! Queries, one module per table. The statements that guard the seat invariant are in
//! [`seats`]: `claim` and `sell_hold`.

/// seating-service's embedded migrations (the kit applies its own first).
pub static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

use crate::domain::{EventStatus, HoldStatus, SeatStatus};

// Read strictly: an unknown stored value fails the row, naming it (a 500), never a default.
service_kit::text_column!(EventStatus);
service_kit::text_column!(HoldStatus);
service_kit::text_column!(SeatStatus);

pub mod events;
pub mod holds;
pub mod seatmap;
pub mod seats;
