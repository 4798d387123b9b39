//! notification-service: every buyer told, with their e-tickets, and no e-mail lost or sent
//! twice. The `order.*` messages are written down as notifications in the inbox's transaction
//! ([`messages`]); a supervised sender e-mails them afterwards over SMTP, with retries, a timeout
//! per send and bounded concurrency ([`sender`]).
//!
//! - [`routes`]: the HTTP API (thin handlers), [`api`]: its JSON shapes;
//! - [`notifications`]: what the API does (who sees what);
//! - [`messages`]: the consumer; [`sender`]: the task that sends;
//! - [`mail`]: a notification as a MIME message; [`templates`]: its words (files under
//!   `templates/`); [`qr`]: the tickets' QR codes as PNG; [`transport`]: SMTP or `.eml` files;
//! - [`domain`]: types, statuses, back-off, `Message-ID`; [`db`]: queries;
//! - [`config`], [`state`]: settings, shared state and metrics; [`startup`]: what the kit runs
//!   ([`Notifications`]).

pub mod api;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod mail;
pub mod messages;
pub mod notifications;
pub mod qr;
pub mod routes;
pub mod sender;
pub mod startup;
pub mod state;
pub mod templates;
pub mod transport;

/// notification-service, as the kit runs it ([`startup`] says what it is made of).
pub struct Notifications;
