//! The reconciler: every charge and refund whose gateway answer never came (a 5xx, a timeout after
//! the gateway acted, a crash, a client that never retried) is settled with the gateway.
//!
//! A round claims, in bounded batches, the PENDING charges and refunds whose last gateway call is
//! older than `PAYMENT_RECONCILE_AFTER_SECONDS` (`FOR UPDATE SKIP LOCKED`, with a lease: no lock
//! is held once the claim commits, and replicas never claim one item together), asks the gateway
//! "what happened to key K", and settles each:
//!
//! | the gateway | a charge | a refund |
//! | --- | --- | --- |
//! | made it | SUCCESS | SUCCESS; the payment PARTIALLY_REFUNDED or REFUNDED |
//! | declined / refused it | FAILED, its reason | FAILED, its amount released |
//! | never saw it | FAILED, `not_at_gateway` (the order is free again) | FAILED, `not_at_gateway`, released |
//! | has it, undecided | left PENDING, asked again after the window | the same |
//! | cannot answer | left PENDING, asked again after the window | the same |
//!
//! A settlement is conditional on the claim's lease: a live retry that called the gateway since
//! the claim (it clears the lease) or another reconciler that took the item over wins, and this
//! one settles nothing ("superseded").

use std::time::Instant;

use futures::StreamExt;
use serde_json::json;
use uuid::Uuid;

use crate::db::attempts::{self, NewAttempt, Operation, Outcome};
use crate::db::payments::{self, ClaimedCharge};
use crate::db::refunds::{self, ClaimedRefund};
use crate::domain::{NOT_AT_GATEWAY, PaymentStatus};
use crate::gateway::{ChargeLookup, GatewayOutcome, Lookup, RefundLookup, RefundOutcome};
use crate::payments::{
    ChargeDecision, RefundSettlement, new_attempt, settle_charge, settle_refund,
};
use crate::state::{AppState, Kind};

/// Gateway questions under way at once, per replica.
const CONCURRENCY: usize = 8;

/// What a round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Items asked about.
    pub asked: usize,
    /// Items settled (SUCCESS or FAILED).
    pub settled: usize,
}

/// One round: every claimable charge, then every claimable refund, then the age of what is left.
pub async fn round(state: &AppState) -> anyhow::Result<Tally> {
    let policy = state.reconcile;
    let gateway = state.gateway.name();
    let mut tally = Tally::default();
    loop {
        let lease = Uuid::now_v7();
        let claimed =
            payments::claim_pending(&state.pool, gateway, policy.after, policy.batch, lease)
                .await?;
        let full = claimed.len() >= usize::try_from(policy.batch).unwrap_or(usize::MAX);
        let outcomes: Vec<anyhow::Result<&'static str>> = futures::stream::iter(claimed)
            .map(|claimed| charge(state, claimed, lease))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        count(state, Kind::Charge, outcomes, &mut tally)?;
        if !full {
            break;
        }
    }
    loop {
        let lease = Uuid::now_v7();
        let claimed =
            refunds::claim_pending(&state.pool, gateway, policy.after, policy.batch, lease).await?;
        let full = claimed.len() >= usize::try_from(policy.batch).unwrap_or(usize::MAX);
        let outcomes: Vec<anyhow::Result<&'static str>> = futures::stream::iter(claimed)
            .map(|claimed| refund(state, claimed, lease))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        count(state, Kind::Refund, outcomes, &mut tally)?;
        if !full {
            break;
        }
    }
    state.metrics.oldest_pending(
        Kind::Charge,
        payments::oldest_pending_age(&state.pool).await?,
    );
    state.metrics.oldest_pending(
        Kind::Refund,
        refunds::oldest_pending_age(&state.pool).await?,
    );
    if tally.asked > 0 {
        tracing::info!(
            asked = tally.asked,
            settled = tally.settled,
            "pending payments and refunds reconciled with the gateway"
        );
    }
    Ok(tally)
}

/// Counts each item's outcome; a database error ends the round (the task is restarted).
fn count(
    state: &AppState,
    kind: Kind,
    outcomes: Vec<anyhow::Result<&'static str>>,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    for outcome in outcomes {
        let outcome = outcome?;
        state.metrics.reconciled(kind, outcome);
        tally.asked += 1;
        if matches!(outcome, "succeeded" | "declined" | "not_found") {
            tally.settled += 1;
        }
    }
    Ok(())
}

/// Asks about one charge and settles it; the outcome's label. (No span: the settlement's own log
/// line names the payment, and a span field of the same name would be written twice.)
async fn charge(
    state: &AppState,
    claimed: ClaimedCharge,
    lease: Uuid,
) -> anyhow::Result<&'static str> {
    let lookup = ChargeLookup {
        payment_id: claimed.id,
        // The key every attempt carried: the payment's id.
        idempotency_key: claimed.id.to_string(),
        first_attempt: claimed.created_at,
        last_attempt: claimed.attempted_at,
    };
    let gateway = state.gateway.name();
    let started = Instant::now();
    let found = state.gateway.charge_status(&lookup).await;
    let latency = started.elapsed();
    state
        .metrics
        .gateway_call(gateway, "charge_lookup", latency);
    let attempt = new_attempt(
        claimed.id,
        None,
        Operation::ChargeLookup,
        gateway,
        json!({ "idempotencyKey": lookup.idempotency_key }),
        latency,
    );
    let (decision, label, outcome) = match &found {
        Err(error) => {
            tracing::warn!(payment_id = %claimed.id, %error, "the gateway could not say what became of a pending charge");
            let failed = NewAttempt {
                error: Some(&error.message),
                ..attempt
            };
            attempts::insert(&state.pool, &failed).await?;
            return Ok("gateway_error");
        }
        Ok(Lookup::Undecided) => {
            let undecided = NewAttempt {
                outcome: Outcome::Undecided,
                ..attempt
            };
            attempts::insert(&state.pool, &undecided).await?;
            return Ok("undecided");
        }
        Ok(Lookup::Decided(outcome @ GatewayOutcome::Succeeded { .. })) => (
            ChargeDecision::from(outcome),
            "succeeded",
            Outcome::Succeeded,
        ),
        Ok(Lookup::Decided(outcome @ GatewayOutcome::Declined { .. })) => {
            (ChargeDecision::from(outcome), "declined", Outcome::Declined)
        }
        Ok(Lookup::NotFound) => (
            ChargeDecision {
                status: PaymentStatus::Failed,
                reference: None,
                failure_reason: Some(NOT_AT_GATEWAY),
            },
            "not_found",
            Outcome::NotFound,
        ),
    };
    let attempt = NewAttempt { outcome, ..attempt };
    let settled = settle_charge(state, claimed.id, &decision, attempt, Some(lease)).await?;
    if settled.is_none() {
        tracing::info!(payment_id = %claimed.id, "a pending charge was settled meanwhile");
        return Ok("superseded");
    }
    Ok(label)
}

/// Asks about one refund and settles it; the outcome's label.
async fn refund(
    state: &AppState,
    claimed: ClaimedRefund,
    lease: Uuid,
) -> anyhow::Result<&'static str> {
    let lookup = RefundLookup {
        payment_id: claimed.payment_id,
        refund_id: claimed.id,
        charge_reference: claimed.charge_reference.clone(),
        // The key every attempt carried: the refund's id.
        idempotency_key: claimed.id.to_string(),
    };
    let gateway = state.gateway.name();
    let started = Instant::now();
    let found = state.gateway.refund_status(&lookup).await;
    let latency = started.elapsed();
    state
        .metrics
        .gateway_call(gateway, "refund_lookup", latency);
    let attempt = new_attempt(
        claimed.payment_id,
        Some(claimed.id),
        Operation::RefundLookup,
        gateway,
        json!({
            "amount": claimed.amount,
            "currency": claimed.currency,
            "idempotencyKey": lookup.idempotency_key,
        }),
        latency,
    );
    let (settlement, label, outcome) = match &found {
        Err(error) => {
            tracing::warn!(refund_id = %claimed.id, %error, "the gateway could not say what became of a pending refund");
            let failed = NewAttempt {
                error: Some(&error.message),
                ..attempt
            };
            attempts::insert(&state.pool, &failed).await?;
            return Ok("gateway_error");
        }
        Ok(Lookup::Undecided) => {
            let undecided = NewAttempt {
                outcome: Outcome::Undecided,
                ..attempt
            };
            attempts::insert(&state.pool, &undecided).await?;
            return Ok("undecided");
        }
        Ok(Lookup::Decided(outcome @ RefundOutcome::Made { .. })) => (
            RefundSettlement::from(outcome),
            "succeeded",
            Outcome::Succeeded,
        ),
        Ok(Lookup::Decided(outcome @ RefundOutcome::Refused { .. })) => (
            RefundSettlement::from(outcome),
            "declined",
            Outcome::Declined,
        ),
        Ok(Lookup::NotFound) => (
            RefundSettlement::Released {
                reason: NOT_AT_GATEWAY,
            },
            "not_found",
            Outcome::NotFound,
        ),
    };
    let attempt = NewAttempt { outcome, ..attempt };
    let settled = settle_refund(state, claimed.id, &settlement, attempt, Some(lease)).await?;
    if settled.is_none() {
        tracing::info!(refund_id = %claimed.id, "a pending refund was settled meanwhile");
        return Ok("superseded");
    }
    Ok(label)
}
