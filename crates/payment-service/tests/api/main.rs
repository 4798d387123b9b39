//! payment-service's API tests: the real app on an ephemeral port over a fresh database, with a
//! real user-service issuing the tokens it verifies and the simulated gateway, or the Stripe
//! adapter against a fake Stripe (`fake_stripe`); and the Stripe adapter alone against a mock.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod fake_stripe;
mod helpers;

mod authorization;
mod charges;
mod races;
mod reconciler_replicas;
mod reconciliation;
mod refunds;
mod refunds_in_doubt;
mod scopes;
mod simulated;
mod stripe;
mod validation;
