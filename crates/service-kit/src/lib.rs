//! The service kit: everything the six ticketing services share, written once.
//!
//! A service crate builds its own router, domain and database access, and takes the rest from here:
//! configuration ([`config`]), JSON logs and request spans ([`telemetry`]), RFC 9457 errors
//! ([`problem`], [`extract`]), JWT verification and service tokens ([`auth`]), calls to other
//! services ([`client`]), Prometheus metrics ([`metrics`]), the HTTP server with its probes and
//! graceful shutdown ([`server`]), the database pool and migrations ([`db`]), [`money`] and
//! `Idempotency-Key` storage ([`idempotency`]), messages between services ([`messages`]), the
//! fleet's map ([`fleet`]), the error surface ([`error`]), supervised background work
//! ([`tasks`]), and the assembly that runs a service from all of these ([`app`]).

pub mod app;
pub mod auth;
pub mod client;
pub mod conditional;
pub mod config;
pub mod db;
pub mod error;
pub mod extract;
pub mod fleet;
pub mod idempotency;
pub mod integer;
pub mod messages;
pub mod metrics;
pub mod money;
pub mod openapi;
pub mod paging;
pub mod problem;
pub mod rate_limit;
pub mod server;
pub mod signing;
pub mod tasks;
pub mod telemetry;

pub use problem::Problem;
