use std::time::Duration;

use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Charge,
    Refund,
    /// The reconciler asking what became of a charge.
    ChargeLookup,
    /// The reconciler asking what became of a refund.
    RefundLookup,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::Refund => "refund",
            Self::ChargeLookup => "charge_lookup",
            Self::RefundLookup => "refund_lookup",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    /// A charge declined, or a refund refused.
    Declined,
    /// The gateway did not decide (or, asked, could not tell).
    Error,
    /// Asked, the gateway had no record of it.
    NotFound,
    /// Asked, the gateway had it but had not decided yet.
    Undecided,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Declined => "declined",
            Self::Error => "error",
            Self::NotFound => "not_found",
            Self::Undecided => "undecided",
        }
    }
}

/// One call to the gateway, for the audit trail. `request` never holds the card token.
pub struct NewAttempt<'a> {
    pub payment_id: Uuid,
    /// The refund, for a refund's calls.
    pub refund_id: Option<Uuid>,
    pub operation: Operation,
    pub gateway: &'a str,
    pub request: serde_json::Value,
    pub outcome: Outcome,
    pub gateway_reference: Option<&'a str>,
    pub error: Option<&'a str>,
    pub latency: Duration,
}

pub async fn insert(db: impl PgExecutor<'_>, attempt: &NewAttempt<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO gateway_attempts (id, payment_id, operation, gateway, request, outcome,
                                       gateway_reference, error, latency_ms, refund_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7())
    .bind(attempt.payment_id)
    .bind(attempt.operation.as_str())
    .bind(attempt.gateway)
    .bind(&attempt.request)
    .bind(attempt.outcome.as_str())
    .bind(attempt.gateway_reference)
    .bind(attempt.error)
    .bind(i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX))
    .bind(attempt.refund_id)
    .execute(db)
    .await?;
    Ok(())
}
