//! catalog-service's API tests: the real app over a fresh database, with a real user-service
//! (tokens) and a real seating-service (publishing, cancellation, sold-out notices).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod helpers;

mod events;
mod import;
mod publications;
mod publishing;
mod stored_values;
mod venues;
