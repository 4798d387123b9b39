//! Queries, one module per table. The statements that guard the seat invariant are in
//! [`seats`]: `claim` and `sell_hold`.

pub mod events;
pub mod holds;
pub mod seats;
