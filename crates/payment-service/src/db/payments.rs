use chrono::{DateTime, Utc};
use service_kit::money::{Currency, Money};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::PaymentStatus;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PaymentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub idempotency_caller: String,
    pub idempotency_key: String,
    pub request_fingerprint: Vec<u8>,
    pub amount: Money,
    pub refunded_amount: Money,
    pub currency: Currency,
    pub method: String,
    pub status: PaymentStatus,
    pub gateway: String,
    pub gateway_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, order_id, user_id, idempotency_caller, idempotency_key,
                       request_fingerprint, amount,
                       refunded_amount, currency, method, status, gateway, gateway_reference,
                       failure_reason, created_at, updated_at";

/// A payment about to be sent to the gateway.
pub struct NewPayment<'a> {
    pub id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub caller: &'a str,
    pub key: &'a str,
    pub fingerprint: &'a [u8],
    pub amount: Money,
    pub currency: Currency,
    pub method: &'a str,
    pub gateway: &'a str,
}

/// Writes the payment down PENDING before the gateway is called. A second live payment for the
/// order fails here on `payments_one_success_per_order`.
pub async fn insert_pending(
    db: impl PgExecutor<'_>,
    new: &NewPayment<'_>,
) -> sqlx::Result<PaymentRow> {
    sqlx::query_as(&format!(
        "INSERT INTO payments (id, order_id, user_id, idempotency_caller, idempotency_key,
                               request_fingerprint, amount, currency, method, status, gateway)
         VALUES ($1, $2, $3, $4, $5, $10, $6, $7, $8, 'PENDING', $9)
         RETURNING {COLUMNS}"
    ))
    .bind(new.id)
    .bind(new.order_id)
    .bind(new.user_id)
    .bind(new.caller)
    .bind(new.key)
    .bind(new.amount)
    .bind(new.currency)
    .bind(new.method)
    .bind(new.gateway)
    .bind(new.fingerprint)
    .fetch_one(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The payment a caller started with an Idempotency-Key: a retry finds it here.
pub async fn find_by_key(
    db: impl PgExecutor<'_>,
    caller: &str,
    key: &str,
) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments WHERE idempotency_caller = $1 AND idempotency_key = $2"
    ))
    .bind(caller)
    .bind(key)
    .fetch_optional(db)
    .await
}

/// Reads and locks the payment: refunds of one payment queue here.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Records the gateway's decision on a PENDING payment; `None` when it is no longer PENDING
/// (another request settled it first).
pub async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    status: PaymentStatus,
    gateway_reference: Option<&str>,
    failure_reason: Option<&str>,
) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!(
        "UPDATE payments
         SET status = $2, gateway_reference = COALESCE($3, gateway_reference),
             failure_reason = $4, updated_at = now()
         WHERE id = $1 AND status = 'PENDING'
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(status.as_str())
    .bind(gateway_reference)
    .bind(failure_reason)
    .fetch_optional(conn)
    .await
}

/// Sets the refunded total and the status that goes with it (the row is locked by the caller).
pub async fn record_refund(
    conn: &mut PgConnection,
    id: Uuid,
    refunded_amount: Money,
    status: PaymentStatus,
) -> sqlx::Result<PaymentRow> {
    sqlx::query_as(&format!(
        "UPDATE payments SET refunded_amount = $2, status = $3, updated_at = now()
         WHERE id = $1
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(refunded_amount)
    .bind(status.as_str())
    .fetch_one(conn)
    .await
}

/// Payments, newest first; `None` filters match everything.
pub async fn list(
    db: impl PgExecutor<'_>,
    user_id: Option<Uuid>,
    order_id: Option<Uuid>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<PaymentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments
         WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::uuid IS NULL OR order_id = $2)
         ORDER BY created_at DESC, id DESC
         LIMIT $3 OFFSET $4"
    ))
    .bind(user_id)
    .bind(order_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

pub async fn count(
    db: impl PgExecutor<'_>,
    user_id: Option<Uuid>,
    order_id: Option<Uuid>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM payments
         WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::uuid IS NULL OR order_id = $2)",
    )
    .bind(user_id)
    .bind(order_id)
    .fetch_one(db)
    .await
}
