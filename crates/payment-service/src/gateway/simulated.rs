//! The built-in gateway: deterministic outcomes from test tokens, no money moves.
//!
//! | token | charge |
//! | --- | --- |
//! | `tok_visa`, `tok_mastercard` | succeeds |
//! | `tok_chargeDeclined` | declined, `card_declined` |
//! | `tok_insufficientFunds` | declined, `insufficient_funds` |
//! | `tok_gatewayError` | fails on every attempt (nothing is made: the payment stays PENDING until a retry or the reconciler) |
//! | `tok_gatewayErrorOnce` | fails on the first attempt for a gateway key, succeeds on the next: the "failure, then a retry that charges once" path |
//! | anything else | declined, `invalid_token` |
//!
//! Like a real gateway it is idempotent: a key it has answered gets the first answer again
//! without charging; a failure is not an answer, so a retry after one is tried afresh. Refunds
//! always succeed (the amount was checked by the service).
//!
//! **Its memory is a table, not this process.** What it answered per key is kept in
//! `simulated_gateway_ledger`, its own table (payment code never reads it): a real gateway's
//! records outlive a restart of payment-service, and so must the simulation's, or the reconciler,
//! asking after a restart what happened to a key, would hear "never seen" about money that moved.
//! Replicas share it too, as they share one real gateway. Only `tok_gatewayErrorOnce`'s first
//! failure is remembered in memory (a failure leaves nothing at a gateway).
//!
//! For tests it can lose the answer of the next charges or refunds: the gateway acts, records,
//! then answers with an error, as when a request times out after the gateway acted.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use service_kit::money::{Currency, Money};
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    ChargeCommand, ChargeLookup, GatewayError, GatewayOutcome, Lookup, RefundCommand, RefundLookup,
    RefundOutcome,
};

#[derive(Debug)]
pub struct SimulatedGateway {
    pool: PgPool,
    latency: Duration,
    /// Keys of `tok_gatewayErrorOnce` charges that have had their one failure.
    failed_once: Mutex<HashSet<String>>,
    charges_made: AtomicU64,
    refunds_made: AtomicU64,
    lookups_made: AtomicU64,
    charge_answers_to_lose: AtomicU64,
    refund_answers_to_lose: AtomicU64,
}

/// One row of the ledger: the first answer to a key.
#[derive(sqlx::FromRow)]
struct Recorded {
    operation: String,
    outcome: String,
    reference: String,
    reason: Option<String>,
}

/// What is about to be recorded under a key.
struct Entry<'a> {
    key: &'a str,
    operation: &'static str,
    outcome: &'a GatewayOutcome,
    amount: Money,
    currency: Currency,
    charge_reference: Option<&'a str>,
}

impl SimulatedGateway {
    /// Every call waits `latency` first, as a remote gateway would; what it did is kept in `pool`.
    pub fn new(pool: PgPool, latency: Duration) -> Self {
        Self {
            pool,
            latency,
            failed_once: Mutex::default(),
            charges_made: AtomicU64::new(0),
            refunds_made: AtomicU64::new(0),
            lookups_made: AtomicU64::new(0),
            charge_answers_to_lose: AtomicU64::new(0),
            refund_answers_to_lose: AtomicU64::new(0),
        }
    }

    /// Charges that took money through this object (not declines, failures or replays).
    pub fn charges_made(&self) -> u64 {
        self.charges_made.load(Ordering::SeqCst)
    }

    /// Refunds that gave money back through this object (not idempotent replays).
    pub fn refunds_made(&self) -> u64 {
        self.refunds_made.load(Ordering::SeqCst)
    }

    /// Questions asked of it by key (`charge_status`, `refund_status`).
    pub fn lookups_made(&self) -> u64 {
        self.lookups_made.load(Ordering::SeqCst)
    }

    /// The next `n` charges it makes answer with an error instead: made, and never heard of.
    pub fn lose_charge_answers(&self, n: u64) {
        self.charge_answers_to_lose.store(n, Ordering::SeqCst);
    }

    /// The next `n` refunds it makes answer with an error instead: made, and never heard of.
    pub fn lose_refund_answers(&self, n: u64) {
        self.refund_answers_to_lose.store(n, Ordering::SeqCst);
    }

    pub async fn charge(&self, command: &ChargeCommand) -> Result<GatewayOutcome, GatewayError> {
        self.pause().await;
        let key = &command.idempotency_key;
        if let Some(first) = self.recorded(key).await? {
            return first.charge();
        }
        let outcome = match command.token.as_str() {
            "tok_visa" | "tok_mastercard" => succeeded(),
            "tok_chargeDeclined" => declined("card_declined"),
            "tok_insufficientFunds" => declined("insufficient_funds"),
            "tok_gatewayError" => {
                return Err(GatewayError::new(
                    "simulated gateway failure (tok_gatewayError)",
                ));
            }
            "tok_gatewayErrorOnce" => {
                if self.fail_once(key) {
                    return Err(GatewayError::new(
                        "simulated gateway failure (tok_gatewayErrorOnce, first attempt)",
                    ));
                }
                succeeded()
            }
            _ => declined("invalid_token"),
        };
        let entry = Entry {
            key,
            operation: "charge",
            outcome: &outcome,
            amount: command.amount,
            currency: command.currency,
            charge_reference: None,
        };
        let Some(made) = self.record(&entry).await? else {
            // A concurrent call with the key recorded first: its answer stands.
            return self.replay(key).await?.charge();
        };
        if matches!(made, GatewayOutcome::Succeeded { .. }) {
            self.charges_made.fetch_add(1, Ordering::SeqCst);
        }
        lose_one(&self.charge_answers_to_lose)?;
        Ok(made)
    }

    pub async fn refund(&self, command: &RefundCommand) -> Result<RefundOutcome, GatewayError> {
        self.pause().await;
        let key = &command.idempotency_key;
        if let Some(first) = self.recorded(key).await? {
            return first.refund();
        }
        let outcome = GatewayOutcome::Succeeded {
            reference: reference("re"),
        };
        let entry = Entry {
            key,
            operation: "refund",
            outcome: &outcome,
            amount: command.amount,
            currency: command.currency,
            charge_reference: Some(&command.gateway_reference),
        };
        let Some(GatewayOutcome::Succeeded { reference }) = self.record(&entry).await? else {
            return self.replay(key).await?.refund();
        };
        self.refunds_made.fetch_add(1, Ordering::SeqCst);
        lose_one(&self.refund_answers_to_lose)?;
        Ok(RefundOutcome::Made { reference })
    }

    pub async fn charge_status(
        &self,
        lookup: &ChargeLookup,
    ) -> Result<Lookup<GatewayOutcome>, GatewayError> {
        self.pause().await;
        self.lookups_made.fetch_add(1, Ordering::SeqCst);
        match self.recorded(&lookup.idempotency_key).await? {
            Some(first) => first.charge().map(Lookup::Decided),
            None => Ok(Lookup::NotFound),
        }
    }

    pub async fn refund_status(
        &self,
        lookup: &RefundLookup,
    ) -> Result<Lookup<RefundOutcome>, GatewayError> {
        self.pause().await;
        self.lookups_made.fetch_add(1, Ordering::SeqCst);
        match self.recorded(&lookup.idempotency_key).await? {
            Some(first) => first.refund().map(Lookup::Decided),
            None => Ok(Lookup::NotFound),
        }
    }

    async fn pause(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    /// True the first time a key asks: its one failure.
    fn fail_once(&self, key: &str) -> bool {
        // Every change under the lock is a single insert: a panic cannot leave it half-done.
        self.failed_once
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.to_owned())
    }

    async fn recorded(&self, key: &str) -> Result<Option<Recorded>, GatewayError> {
        sqlx::query_as(
            "SELECT operation, outcome, reference, reason FROM simulated_gateway_ledger
             WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| unreachable_ledger(&e))
    }

    async fn replay(&self, key: &str) -> Result<Recorded, GatewayError> {
        self.recorded(key)
            .await?
            .ok_or_else(|| GatewayError::new("simulated gateway: a recorded key vanished"))
    }

    /// Records `entry` as the first answer to its key; `None` when another call recorded first.
    async fn record(&self, entry: &Entry<'_>) -> Result<Option<GatewayOutcome>, GatewayError> {
        let (outcome, reference, reason) = match entry.outcome {
            GatewayOutcome::Succeeded { reference } => ("succeeded", reference.as_str(), None),
            GatewayOutcome::Declined { reason, reference } => (
                "declined",
                reference.as_deref().unwrap_or_default(),
                Some(reason.as_str()),
            ),
        };
        let inserted = sqlx::query(
            "INSERT INTO simulated_gateway_ledger
                 (key, operation, outcome, reference, reason, amount, currency, charge_reference)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (key) DO NOTHING",
        )
        .bind(entry.key)
        .bind(entry.operation)
        .bind(outcome)
        .bind(reference)
        .bind(reason)
        .bind(entry.amount)
        .bind(entry.currency)
        .bind(entry.charge_reference)
        .execute(&self.pool)
        .await
        .map_err(|e| unreachable_ledger(&e))?;
        Ok((inserted.rows_affected() == 1).then(|| entry.outcome.clone()))
    }
}

impl Recorded {
    fn charge(self) -> Result<GatewayOutcome, GatewayError> {
        match (self.operation.as_str(), self.outcome.as_str()) {
            ("charge", "succeeded") => Ok(GatewayOutcome::Succeeded {
                reference: self.reference,
            }),
            ("charge", "declined") => Ok(GatewayOutcome::Declined {
                reason: self.reason.unwrap_or_else(|| "card_declined".into()),
                reference: Some(self.reference),
            }),
            _ => Err(GatewayError::new(
                "simulated gateway: the key belongs to another operation",
            )),
        }
    }

    fn refund(self) -> Result<RefundOutcome, GatewayError> {
        match self.operation.as_str() {
            "refund" => Ok(RefundOutcome::Made {
                reference: self.reference,
            }),
            _ => Err(GatewayError::new(
                "simulated gateway: the key belongs to another operation",
            )),
        }
    }
}

/// Takes one from a count of answers to lose: an error when there was one.
fn lose_one(count: &AtomicU64) -> Result<(), GatewayError> {
    match count.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)) {
        Ok(_) => Err(GatewayError::new(
            "simulated gateway: it acted, but its answer was lost",
        )),
        Err(_) => Ok(()),
    }
}

/// The ledger is the gateway's side: when it cannot be read or written, the gateway failed.
fn unreachable_ledger(error: &sqlx::Error) -> GatewayError {
    GatewayError::new(format!("simulated gateway unavailable: {error}"))
}

fn succeeded() -> GatewayOutcome {
    GatewayOutcome::Succeeded {
        reference: reference("ch"),
    }
}

fn declined(reason: &str) -> GatewayOutcome {
    GatewayOutcome::Declined {
        reason: reason.to_owned(),
        reference: Some(reference("ch")),
    }
}

/// `sim_ch_<uuid>` for charges, `sim_re_<uuid>` for refunds, as Stripe's `ch_`/`re_` ids.
fn reference(kind: &str) -> String {
    format!("sim_{kind}_{}", Uuid::now_v7().simple())
}
