//! notification-service's API tests, against a real SMTP server (`smtp`) and a real
//! user-service (`helpers`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod delivery;
mod helpers;
mod listing;
mod receipt;
mod smtp;
