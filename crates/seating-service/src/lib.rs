//! seating-service: seat availability. Holds with a time limit, their release, their allocation
//! to a paid order, and the return of seats from refunded orders, correct under any concurrency.
//!
//! - [`routes`]: the HTTP API (thin handlers), [`api`]: its JSON shapes and validation;
//! - [`holds`], [`inventory`]: what the API does; [`messages`]: what it does on `event.cancelled`;
//! - [`domain`]: seat selections, TTLs, the hold's states;
//! - [`db`]: queries, among them the reserve that keeps the invariant ([`db::holds::reserve`]);
//! - [`seatmap`]: the seat map served from memory, and its live stream;
//! - [`sweeper`]: marks expired holds; [`config`]: its settings; [`startup`]: what the kit
//!   runs ([`Seating`]).

pub mod api;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod holds;
pub mod inventory;
pub mod messages;
pub mod routes;
pub mod seatmap;
pub mod startup;
pub mod state;
pub mod sweeper;

/// seating-service, as the kit runs it ([`startup`] says what it is made of).
pub struct Seating;
