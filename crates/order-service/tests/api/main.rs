//! order-service's API tests, against the real fleet (see `helpers`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod cancellations;
mod crash;
mod helpers;
mod purchase;
mod tickets;
