use service_kit::money::Money;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefundRow {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Money,
}

pub struct NewRefund<'a> {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Money,
    pub reason: &'a str,
    pub gateway_reference: &'a str,
    pub caller: &'a str,
    pub key: &'a str,
}

pub async fn insert(conn: &mut PgConnection, new: &NewRefund<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refunds (id, payment_id, amount, reason, gateway_reference,
                              idempotency_caller, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(new.id)
    .bind(new.payment_id)
    .bind(new.amount)
    .bind(new.reason)
    .bind(new.gateway_reference)
    .bind(new.caller)
    .bind(new.key)
    .execute(conn)
    .await?;
    Ok(())
}

/// The refund a caller already made with an Idempotency-Key, should its stored answer be gone.
pub async fn find_by_key(
    db: impl PgExecutor<'_>,
    caller: &str,
    key: &str,
) -> sqlx::Result<Option<RefundRow>> {
    sqlx::query_as(
        "SELECT id, payment_id, amount FROM refunds
         WHERE idempotency_caller = $1 AND idempotency_key = $2",
    )
    .bind(caller)
    .bind(key)
    .fetch_optional(db)
    .await
}
