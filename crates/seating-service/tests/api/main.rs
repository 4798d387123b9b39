//! seating-service's API tests: the real app on an ephemeral port over a fresh database, with a
//! real user-service issuing the tokens it verifies.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod helpers;

mod holds;
mod inventory;
mod messages;
mod publications;
mod races;
mod scopes;
mod seatmap;
mod stored_values;
