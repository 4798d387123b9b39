//! The built-in gateway: deterministic outcomes from test tokens, no money moves.
//!
//! | token | charge |
//! | --- | --- |
//! | `tok_visa`, `tok_mastercard` | succeeds |
//! | `tok_chargeDeclined` | declined, `card_declined` |
//! | `tok_insufficientFunds` | declined, `insufficient_funds` |
//! | `tok_gatewayError` | fails on every attempt (the payment stays PENDING, retryable) |
//! | `tok_gatewayErrorOnce` | fails on the first attempt for a gateway key, succeeds on the next: the "failure, then a retry that charges once" path |
//! | anything else | declined, `invalid_token` |
//!
//! Like a real gateway it is idempotent: a key it has answered gets the first answer again
//! without charging; a failure is not an answer, so a retry after one is tried afresh. Refunds
//! always succeed (the amount was checked by the service).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use uuid::Uuid;

use super::{ChargeCommand, GatewayError, GatewayOutcome, GatewayRefund, RefundCommand};

#[derive(Debug)]
pub struct SimulatedGateway {
    latency: Duration,
    ledger: Mutex<Ledger>,
    charges_made: AtomicU64,
    refunds_made: AtomicU64,
}

/// The first answer per gateway idempotency key.
#[derive(Debug, Default)]
struct Ledger {
    charges: HashMap<String, GatewayOutcome>,
    refunds: HashMap<String, GatewayRefund>,
    /// Keys of `tok_gatewayErrorOnce` charges that have had their one failure.
    failed_once: HashSet<String>,
}

impl SimulatedGateway {
    /// Every call waits `latency` first, as a remote gateway would.
    pub fn new(latency: Duration) -> Self {
        Self {
            latency,
            ledger: Mutex::default(),
            charges_made: AtomicU64::new(0),
            refunds_made: AtomicU64::new(0),
        }
    }

    /// Charges that took money (not declines, failures or idempotent replays).
    pub fn charges_made(&self) -> u64 {
        self.charges_made.load(Ordering::SeqCst)
    }

    /// Refunds that gave money back (not idempotent replays).
    pub fn refunds_made(&self) -> u64 {
        self.refunds_made.load(Ordering::SeqCst)
    }

    pub async fn charge(&self, command: &ChargeCommand) -> Result<GatewayOutcome, GatewayError> {
        self.pause().await;
        self.charge_now(command)
    }

    pub async fn refund(&self, command: &RefundCommand) -> Result<GatewayRefund, GatewayError> {
        self.pause().await;
        Ok(self.refund_now(command))
    }

    async fn pause(&self) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }

    // The ledger is locked only in these synchronous parts, never across an await.

    fn charge_now(&self, command: &ChargeCommand) -> Result<GatewayOutcome, GatewayError> {
        let mut ledger = self.ledger();
        let key = &command.idempotency_key;
        if let Some(first) = ledger.charges.get(key) {
            return Ok(first.clone());
        }
        let outcome = match command.token.as_str() {
            "tok_visa" | "tok_mastercard" => self.take_money(),
            "tok_chargeDeclined" => declined("card_declined"),
            "tok_insufficientFunds" => declined("insufficient_funds"),
            "tok_gatewayError" => {
                return Err(GatewayError::new(
                    "simulated gateway failure (tok_gatewayError)",
                ));
            }
            "tok_gatewayErrorOnce" => {
                if ledger.failed_once.insert(key.clone()) {
                    return Err(GatewayError::new(
                        "simulated gateway failure (tok_gatewayErrorOnce, first attempt)",
                    ));
                }
                self.take_money()
            }
            _ => declined("invalid_token"),
        };
        ledger.charges.insert(key.clone(), outcome.clone());
        Ok(outcome)
    }

    fn refund_now(&self, command: &RefundCommand) -> GatewayRefund {
        let mut ledger = self.ledger();
        if let Some(first) = ledger.refunds.get(&command.idempotency_key) {
            return first.clone();
        }
        let refund = GatewayRefund {
            reference: reference("re"),
        };
        ledger
            .refunds
            .insert(command.idempotency_key.clone(), refund.clone());
        self.refunds_made.fetch_add(1, Ordering::SeqCst);
        refund
    }

    fn take_money(&self) -> GatewayOutcome {
        self.charges_made.fetch_add(1, Ordering::SeqCst);
        GatewayOutcome::Succeeded {
            reference: reference("ch"),
        }
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // Every change under the lock is a single insert: a panic cannot leave it half-done.
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
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

#[cfg(test)]
mod tests {
    use service_kit::money::{Currency, Money};

    use super::*;

    fn command(token: &str, key: &str) -> ChargeCommand {
        ChargeCommand {
            payment_id: Uuid::now_v7(),
            order_id: Uuid::now_v7(),
            amount: Money::parse("10.00").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            token: token.to_owned(),
            idempotency_key: key.to_owned(),
        }
    }

    #[tokio::test]
    async fn test_tokens_have_fixed_outcomes() {
        let gateway = SimulatedGateway::new(Duration::ZERO);
        for token in ["tok_visa", "tok_mastercard"] {
            let outcome = gateway.charge(&command(token, token)).await.unwrap();
            assert!(
                matches!(outcome, GatewayOutcome::Succeeded { reference } if reference.starts_with("sim_ch_"))
            );
        }
        for (token, expected) in [
            ("tok_chargeDeclined", "card_declined"),
            ("tok_insufficientFunds", "insufficient_funds"),
            ("tok_whatever", "invalid_token"),
        ] {
            let outcome = gateway.charge(&command(token, token)).await.unwrap();
            assert!(
                matches!(&outcome, GatewayOutcome::Declined { reason, .. } if reason == expected),
                "{token}: {outcome:?}"
            );
        }
        assert!(
            gateway
                .charge(&command("tok_gatewayError", "e"))
                .await
                .is_err()
        );
        assert_eq!(gateway.charges_made(), 2);
    }

    #[tokio::test]
    async fn a_repeated_key_gets_the_first_answer_without_a_second_charge() {
        let gateway = SimulatedGateway::new(Duration::ZERO);
        let first = gateway.charge(&command("tok_visa", "k")).await.unwrap();
        let again = gateway.charge(&command("tok_visa", "k")).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(gateway.charges_made(), 1);
    }

    #[tokio::test]
    async fn the_failing_token_fails_every_time_and_the_flaky_one_once_per_key() {
        let gateway = SimulatedGateway::new(Duration::ZERO);
        for _ in 0..3 {
            assert!(
                gateway
                    .charge(&command("tok_gatewayError", "a"))
                    .await
                    .is_err()
            );
        }
        assert!(
            gateway
                .charge(&command("tok_gatewayErrorOnce", "b"))
                .await
                .is_err()
        );
        assert!(
            gateway
                .charge(&command("tok_gatewayErrorOnce", "b"))
                .await
                .is_ok()
        );
        assert!(
            gateway
                .charge(&command("tok_gatewayErrorOnce", "c"))
                .await
                .is_err()
        );
        assert_eq!(gateway.charges_made(), 1);
    }

    #[tokio::test]
    async fn a_refund_is_made_once_per_key() {
        let gateway = SimulatedGateway::new(Duration::ZERO);
        let refund = RefundCommand {
            payment_id: Uuid::now_v7(),
            gateway_reference: "sim_ch_1".into(),
            amount: Money::parse("5.00").unwrap(),
            currency: Currency::parse("EUR").unwrap(),
            idempotency_key: "r".into(),
        };
        let first = gateway.refund(&refund).await.unwrap();
        assert!(first.reference.starts_with("sim_re_"));
        assert_eq!(gateway.refund(&refund).await.unwrap(), first);
        assert_eq!(gateway.refunds_made(), 1);
    }
}
