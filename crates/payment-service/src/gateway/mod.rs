//! Payment gateways behind one type. An enum rather than a trait object: two gateways, known at
//! compile time, and `async fn` without boxing or an async-trait crate.
//!
//! Every call carries an idempotency key that stays the same on every retry of one operation, so
//! a gateway that already did the work answers the first result instead of charging again. And
//! each gateway answers "what happened to key K" (`charge_status`, `refund_status`): the
//! reconciler asks it about the charges and refunds whose answer never came.

pub mod simulated;
pub mod stripe;

use chrono::{DateTime, Utc};
use service_kit::money::{Currency, Money};
use sqlx::PgPool;
use uuid::Uuid;

pub use simulated::SimulatedGateway;
pub use stripe::StripeGateway;

use crate::config::GatewayConfig;

/// Take `amount` from the card behind `token`.
pub struct ChargeCommand {
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub amount: Money,
    pub currency: Currency,
    pub token: String,
    /// The same for every attempt at this payment (its id).
    pub idempotency_key: String,
}

/// Give `amount` of a successful charge back.
pub struct RefundCommand {
    pub payment_id: Uuid,
    pub refund_id: Uuid,
    /// The gateway's reference of the charge.
    pub gateway_reference: String,
    pub amount: Money,
    pub currency: Currency,
    /// The same for every attempt at this refund (its id).
    pub idempotency_key: String,
}

/// What happened to the charge of a payment? Asked by the reconciler.
pub struct ChargeLookup {
    pub payment_id: Uuid,
    /// The key every attempt at the charge carried.
    pub idempotency_key: String,
    /// When the payment was written down, and when the gateway was last asked to charge it:
    /// whatever the gateway made of it, it made between the two (give or take the clocks).
    pub first_attempt: DateTime<Utc>,
    pub last_attempt: DateTime<Utc>,
}

/// What happened to a refund? Asked by the reconciler.
pub struct RefundLookup {
    pub payment_id: Uuid,
    pub refund_id: Uuid,
    /// The gateway's reference of the charge refunded.
    pub charge_reference: String,
    pub idempotency_key: String,
}

/// What a gateway knows of an operation, asked after the fact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup<T> {
    /// It decided: this is what happened.
    Decided(T),
    /// It has the operation but has not decided yet (Stripe's `processing`): ask again later.
    Undecided,
    /// It has no record of the operation: it never reached the gateway, nothing moved.
    NotFound,
}

/// What the gateway decided about a charge. A decline is an answer, not a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayOutcome {
    Succeeded {
        reference: String,
    },
    Declined {
        reason: String,
        reference: Option<String>,
    },
}

/// What the gateway decided about a refund. A refusal is an answer, not a failure: nothing was
/// given back, and the same key will not give it back either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Made { reference: String },
    Refused { reason: String },
}

/// The gateway did not decide: unreachable, timed out, failed (5xx) or refused the request
/// itself. Nothing is known to have happened, so the operation may be retried with the same key.
/// The message is for logs and the audit table; it never holds a key or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GatewayError {
    pub message: String,
}

impl GatewayError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

pub enum Gateway {
    Simulated(SimulatedGateway),
    Stripe(StripeGateway),
}

impl Gateway {
    /// The simulated gateway keeps its records in `pool` (its own table), as a real gateway keeps
    /// them on its side: they outlive this process.
    pub fn from_config(config: &GatewayConfig, pool: PgPool) -> Self {
        match config {
            GatewayConfig::Simulated { latency } => {
                Self::Simulated(SimulatedGateway::new(pool, *latency))
            }
            GatewayConfig::Stripe { api_key, api_base } => Self::Stripe(StripeGateway::new(
                api_base,
                api_key.clone(),
                stripe::DEFAULT_TIMEOUT,
            )),
        }
    }

    /// As stored in `payments.gateway` and in metric labels.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Simulated(_) => "simulated",
            Self::Stripe(_) => "stripe",
        }
    }

    /// The simulated gateway, for tests that count what it did.
    pub fn as_simulated(&self) -> Option<&SimulatedGateway> {
        match self {
            Self::Simulated(gateway) => Some(gateway),
            Self::Stripe(_) => None,
        }
    }

    pub async fn charge(&self, command: &ChargeCommand) -> Result<GatewayOutcome, GatewayError> {
        match self {
            Self::Simulated(gateway) => gateway.charge(command).await,
            Self::Stripe(gateway) => gateway.charge(command).await,
        }
    }

    pub async fn refund(&self, command: &RefundCommand) -> Result<RefundOutcome, GatewayError> {
        match self {
            Self::Simulated(gateway) => gateway.refund(command).await,
            Self::Stripe(gateway) => gateway.refund(command).await,
        }
    }

    /// What became of a charge; an error when the gateway cannot tell now.
    pub async fn charge_status(
        &self,
        lookup: &ChargeLookup,
    ) -> Result<Lookup<GatewayOutcome>, GatewayError> {
        match self {
            Self::Simulated(gateway) => gateway.charge_status(lookup).await,
            Self::Stripe(gateway) => gateway.charge_status(lookup).await,
        }
    }

    /// What became of a refund; an error when the gateway cannot tell now.
    pub async fn refund_status(
        &self,
        lookup: &RefundLookup,
    ) -> Result<Lookup<RefundOutcome>, GatewayError> {
        match self {
            Self::Simulated(gateway) => gateway.refund_status(lookup).await,
            Self::Stripe(gateway) => gateway.refund_status(lookup).await,
        }
    }
}
