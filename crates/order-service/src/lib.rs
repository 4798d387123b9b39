//! order-service: the Buy Tickets saga. An order is written down, its seats held at seating's
//! prices, paid once through payment-service, its seats sold and one signed ticket issued per
//! seat — or undone: released, refunded, returned. Nobody is ever charged without tickets.
//!
//! - [`routes`]: the HTTP API (thin handlers), [`api`]: its JSON shapes and validation;
//! - [`orders`]: what the order API does; [`saga`]: the engine that drives an order's steps;
//! - [`tickets`]: signed payloads, QR codes, check-in;
//! - [`workers`]: expiry, recovery of stalled orders, undoing a cancelled event's orders;
//! - [`messages`]: `event.cancelled`; [`notices`]: what the `order.*` messages carry;
//! - [`clients`]: calls to catalog, user, seating and payment;
//! - [`domain`]: statuses, steps, totals, ticket codes; [`db`]: queries;
//! - [`config`], [`state`]: settings, shared state and metrics; [`startup`]: what the kit runs
//!   ([`Orders`]).

pub mod api;
pub mod clients;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod messages;
pub mod notices;
pub mod orders;
pub mod routes;
pub mod saga;
pub mod startup;
pub mod state;
pub mod tickets;
pub mod workers;

/// order-service, as the kit runs it ([`startup`] says what it is made of).
pub struct Orders;
