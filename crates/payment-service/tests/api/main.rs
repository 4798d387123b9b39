//! payment-service's API tests: the real app on an ephemeral port over a fresh database, with a
//! real user-service issuing the tokens it verifies and the simulated gateway; and the Stripe
//! adapter against a mock Stripe.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod helpers;

mod authorization;
mod charges;
mod races;
mod refunds;
mod scopes;
mod stripe;
mod validation;
