//! Payment gateways behind one type. An enum rather than a trait object: two gateways, known at
//! compile time, and `async fn` without boxing or an async-trait crate.
//!
//! Every call carries an idempotency key that stays the same on every retry of one operation, so
//! a gateway that already did the work answers the first result instead of charging again.

pub mod simulated;
pub mod stripe;

use service_kit::money::{Currency, Money};
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
    /// The gateway's reference of the charge.
    pub gateway_reference: String,
    pub amount: Money,
    pub currency: Currency,
    /// The same for every attempt at this refund.
    pub idempotency_key: String,
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

/// A refund the gateway made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRefund {
    pub reference: String,
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
    pub fn from_config(config: &GatewayConfig) -> Self {
        match config {
            GatewayConfig::Simulated { latency } => {
                Self::Simulated(SimulatedGateway::new(*latency))
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

    pub async fn refund(&self, command: &RefundCommand) -> Result<GatewayRefund, GatewayError> {
        match self {
            Self::Simulated(gateway) => gateway.refund(command).await,
            Self::Stripe(gateway) => gateway.refund(command).await,
        }
    }
}
