//! catalog-service: what is for sale. Venues, events and the canonical seats of each event;
//! publishing to seating, cancellation with its consequences, search; the import of the original
//! system's data and a generator of demo catalogues.
//!
//! - [`routes`]: the HTTP API (thin handlers), [`api`]: its JSON shapes and validation;
//! - [`venues`], [`events`]: what the API does; [`access`]: who may see and change what;
//! - [`messages`]: seating's sold-out notices; [`clients`]: calls to seating;
//! - [`domain`]: event statuses and types; [`db`]: queries;
//! - [`commands`]: `import-etsr` and `seed-demo`;
//! - [`config`]: its settings; [`startup`]: what the kit runs ([`Catalog`]).

pub mod access;
pub mod api;
pub mod clients;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod events;
pub mod messages;
pub mod routes;
pub mod startup;
pub mod state;
pub mod venues;

/// catalog-service, as the kit runs it ([`startup`] says what it is made of).
pub struct Catalog;
