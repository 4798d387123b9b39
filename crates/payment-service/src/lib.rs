//! payment-service: takes the charge for an order through a payment gateway, exactly once however
//! often the request is retried; refunds it in full or in part, never beyond what was charged;
//! keeps every payment, refund and gateway attempt forever; leaves no money out of sight (what the
//! gateway did without answering is found and recorded).
//!
//! - [`routes`]: the HTTP API (thin handlers), [`api`]: its JSON shapes and validation;
//! - [`payments`]: what the API does; with [`reconciler`], the only code that calls the gateway;
//! - [`reconciler`]: the background task that settles with the gateway every charge and refund
//!   whose answer never came;
//! - [`gateway`]: the gateways behind one enum (simulated, Stripe);
//! - [`domain`]: statuses and the refund state machine, card tokens;
//! - [`db`]: queries per table; the invariants themselves live in the migration's constraints;
//! - [`config`], [`state`]: its settings, shared state and metrics; [`startup`]: what the kit
//!   runs ([`Payments`]).

pub mod api;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod gateway;
pub mod payments;
pub mod reconciler;
pub mod routes;
pub mod startup;
pub mod state;

/// payment-service, as the kit runs it ([`startup`] says what it is made of).
pub struct Payments;
