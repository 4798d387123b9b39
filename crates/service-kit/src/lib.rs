//! The service kit: everything the six ticketing services share, written once.
//!
//! A service crate builds its own router, domain and database access, and takes the rest from here:
//! configuration ([`config`]), JSON logs and request spans ([`telemetry`]), RFC 9457 errors
//! ([`problem`], [`extract`]), JWT verification and service tokens ([`auth`]), calls to other
//! services ([`client`]), Prometheus metrics ([`metrics`]), the HTTP server with its probes and
//! graceful shutdown ([`server`]), the database pool and migrations ([`db`]), [`money`] and
//! `Idempotency-Key` storage ([`idempotency`]).

pub mod auth;
pub mod client;
pub mod conditional;
pub mod config;
pub mod db;
pub mod extract;
pub mod fleet;
pub mod idempotency;
pub mod messages;
pub mod metrics;
pub mod money;
pub mod openapi;
pub mod problem;
pub mod server;
pub mod telemetry;

pub use problem::Problem;
