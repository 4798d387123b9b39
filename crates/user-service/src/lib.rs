//! user-service: accounts, passwords, sessions and the tokens the whole fleet trusts.
//!
//! - [`routes`]: the HTTP API (thin handlers), [`api`]: its JSON shapes and their validation;
//! - [`accounts`], [`sessions`]: what the API does;
//! - [`domain`]: validated values (e-mail, password, name, phone);
//! - [`db`]: queries; [`keys`], [`tokens`], [`passwords`]: the cryptography;
//! - [`config`]: its settings; [`startup`]: what the kit runs ([`Users`]).

pub mod accounts;
pub mod api;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod keys;
pub mod passwords;
pub mod routes;
pub mod sessions;
pub mod startup;
pub mod state;
pub mod tokens;

/// user-service, as the kit runs it ([`startup`] says what it is made of).
pub struct Users;
