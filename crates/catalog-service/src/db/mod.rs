//! Queries, one module per table.

pub mod events;
pub mod seats;
pub mod venues;
