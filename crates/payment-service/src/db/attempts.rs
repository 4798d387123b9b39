use std::time::Duration;

use sqlx::PgExecutor;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Charge,
    Refund,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Charge => "charge",
            Self::Refund => "refund",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Declined,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Declined => "declined",
            Self::Error => "error",
        }
    }
}

/// One call to the gateway, for the audit trail. `request` never holds the card token.
pub struct NewAttempt<'a> {
    pub payment_id: Uuid,
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
                                       gateway_reference, error, latency_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
    .execute(db)
    .await?;
    Ok(())
}
