use std::time::Duration;

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
    /// What PENDING refunds hold: no other refund may take it.
    pub refund_reserved: Money,
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
                       request_fingerprint, amount, refunded_amount, refund_reserved,
                       currency, method, status, gateway, gateway_reference,
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

/// Stamps a new gateway attempt on a PENDING payment, before the call: the reconciler leaves it
/// alone for its window, and a reconciler that claimed it before settles nothing (its lease is
/// cleared). `None` when it is no longer PENDING: then there is nothing to attempt.
pub async fn stamp_attempt(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!(
        "UPDATE payments SET attempted_at = now(), check_lease = NULL
         WHERE id = $1 AND status = 'PENDING'
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Records the gateway's decision on a PENDING payment; `None` when it is no longer PENDING
/// (another request settled it first) or, for the reconciler (`lease`), when its claim was taken
/// over by a live attempt or another reconciler since.
pub async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    status: PaymentStatus,
    gateway_reference: Option<&str>,
    failure_reason: Option<&str>,
    lease: Option<Uuid>,
) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!(
        "UPDATE payments
         SET status = $2, gateway_reference = COALESCE($3, gateway_reference),
             failure_reason = $4, updated_at = now()
         WHERE id = $1 AND status = 'PENDING' AND ($5::uuid IS NULL OR check_lease = $5)
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(status.as_str())
    .bind(gateway_reference)
    .bind(failure_reason)
    .bind(lease)
    .fetch_optional(conn)
    .await
}

/// Reserves `amount` of a refundable payment for a refund about to be asked of the gateway, in one
/// conditional statement: of any number of concurrent refunds, only those that fit in what is
/// neither refunded nor reserved get a row back (`payments_refunds_within_amount` backs it).
/// `None`: it is not refundable, or not for that much.
pub async fn reserve_refund(
    conn: &mut PgConnection,
    id: Uuid,
    amount: Money,
) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!(
        "UPDATE payments SET refund_reserved = refund_reserved + $2, updated_at = now()
         WHERE id = $1 AND status IN ('SUCCESS', 'PARTIALLY_REFUNDED')
           AND refunded_amount + refund_reserved + $2 <= amount
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(amount)
    .fetch_optional(conn)
    .await
}

/// A reserved refund was made: it moves from reserved to refunded, and the status follows.
pub async fn refund_made(
    conn: &mut PgConnection,
    id: Uuid,
    amount: Money,
) -> sqlx::Result<PaymentRow> {
    sqlx::query_as(&format!(
        "UPDATE payments
         SET refund_reserved = refund_reserved - $2, refunded_amount = refunded_amount + $2,
             status = CASE WHEN refunded_amount + $2 = amount THEN 'REFUNDED'
                           ELSE 'PARTIALLY_REFUNDED' END,
             updated_at = now()
         WHERE id = $1
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(amount)
    .fetch_one(conn)
    .await
}

/// A reserved refund was not made: what it held is refundable again.
pub async fn refund_released(
    conn: &mut PgConnection,
    id: Uuid,
    amount: Money,
) -> sqlx::Result<PaymentRow> {
    sqlx::query_as(&format!(
        "UPDATE payments SET refund_reserved = refund_reserved - $2, updated_at = now()
         WHERE id = $1
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(amount)
    .fetch_one(conn)
    .await
}

/// A PENDING charge the reconciler took, with what it needs to ask the gateway.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedCharge {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub attempted_at: DateTime<Utc>,
}

/// Claims up to `limit` PENDING payments of `gateway` whose last gateway attempt, and last claim,
/// are older than `after`, marking them with `lease`. `SKIP LOCKED` keeps concurrent claims apart,
/// and the claim time keeps the rows from being claimed again for `after`; nothing stays locked
/// once this statement ends.
pub async fn claim_pending(
    db: impl PgExecutor<'_>,
    gateway: &str,
    after: Duration,
    limit: i64,
    lease: Uuid,
) -> sqlx::Result<Vec<ClaimedCharge>> {
    sqlx::query_as(
        "UPDATE payments SET checked_at = now(), check_lease = $1
         WHERE id IN (
             SELECT id FROM payments
             WHERE status = 'PENDING' AND gateway = $2
               AND attempted_at < now() - $3
               AND (checked_at IS NULL OR checked_at < now() - $3)
             ORDER BY attempted_at
             LIMIT $4
             FOR UPDATE SKIP LOCKED)
         RETURNING id, created_at, attempted_at",
    )
    .bind(lease)
    .bind(gateway)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How long the oldest PENDING payment has waited, in seconds (0 when none is pending).
pub async fn oldest_pending_age(db: impl PgExecutor<'_>) -> sqlx::Result<f64> {
    sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0)
         FROM payments WHERE status = 'PENDING'",
    )
    .fetch_one(db)
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
