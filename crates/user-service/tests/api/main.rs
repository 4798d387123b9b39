//! user-service's API tests: the real app on an ephemeral port, a fresh database per test.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod helpers;

mod accounts;
mod platform;
mod sessions;
mod tokens;
