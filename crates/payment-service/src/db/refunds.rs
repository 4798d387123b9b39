use std::time::Duration;

use chrono::{DateTime, Utc};
use service_kit::money::{Currency, Money};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::RefundStatus;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefundRow {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Money,
    pub status: RefundStatus,
    pub failure_reason: Option<String>,
    /// `None` for refunds written before fingerprints were kept.
    pub request_fingerprint: Option<Vec<u8>>,
}

const COLUMNS: &str = "id, payment_id, amount, status, failure_reason, request_fingerprint";

/// A refund about to be asked of the gateway.
pub struct NewRefund<'a> {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Money,
    pub reason: &'a str,
    pub caller: &'a str,
    pub key: &'a str,
    pub fingerprint: &'a [u8],
}

/// Writes the refund down PENDING, in the transaction that reserves its amount on the payment.
/// A second refund under the caller's key fails on `refunds_idempotency_key`.
pub async fn insert_pending(
    conn: &mut PgConnection,
    new: &NewRefund<'_>,
) -> sqlx::Result<RefundRow> {
    sqlx::query_as(&format!(
        "INSERT INTO refunds (id, payment_id, amount, reason, status, idempotency_caller,
                              idempotency_key, request_fingerprint)
         VALUES ($1, $2, $3, $4, 'PENDING', $5, $6, $7)
         RETURNING {COLUMNS}"
    ))
    .bind(new.id)
    .bind(new.payment_id)
    .bind(new.amount)
    .bind(new.reason)
    .bind(new.caller)
    .bind(new.key)
    .bind(new.fingerprint)
    .fetch_one(conn)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<RefundRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM refunds WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The refund a caller started with an Idempotency-Key: a retry finds it here.
pub async fn find_by_key(
    db: impl PgExecutor<'_>,
    caller: &str,
    key: &str,
) -> sqlx::Result<Option<RefundRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE idempotency_caller = $1 AND idempotency_key = $2"
    ))
    .bind(caller)
    .bind(key)
    .fetch_optional(db)
    .await
}

/// Stamps a new gateway attempt on a PENDING refund (see `payments::stamp_attempt`); `None` when
/// it is no longer PENDING.
pub async fn stamp_attempt(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<RefundRow>> {
    sqlx::query_as(&format!(
        "UPDATE refunds SET attempted_at = now(), check_lease = NULL, updated_at = now()
         WHERE id = $1 AND status = 'PENDING'
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A FAILED refund asked again with its key becomes PENDING again, with a new attempt, in the
/// transaction that reserves its amount once more. `None` when it is no longer FAILED.
pub async fn reopen(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<RefundRow>> {
    sqlx::query_as(&format!(
        "UPDATE refunds
         SET status = 'PENDING', failure_reason = NULL, attempted_at = now(),
             check_lease = NULL, updated_at = now()
         WHERE id = $1 AND status = 'FAILED'
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Settles a PENDING refund: SUCCESS with the gateway's reference, or FAILED with a reason.
/// `None` when it is no longer PENDING or, for the reconciler (`lease`), when its claim was taken
/// over since.
pub async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    status: RefundStatus,
    gateway_reference: Option<&str>,
    failure_reason: Option<&str>,
    lease: Option<Uuid>,
) -> sqlx::Result<Option<RefundRow>> {
    sqlx::query_as(&format!(
        "UPDATE refunds
         SET status = $2, gateway_reference = $3, failure_reason = $4, updated_at = now()
         WHERE id = $1 AND status = 'PENDING' AND ($5::uuid IS NULL OR check_lease = $5)
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(status)
    .bind(gateway_reference)
    .bind(failure_reason)
    .bind(lease)
    .fetch_optional(conn)
    .await
}

/// A PENDING refund the reconciler took, with what it needs to ask the gateway.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedRefund {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub amount: Money,
    pub currency: Currency,
    /// The charge refunded, at the gateway.
    pub charge_reference: String,
    pub created_at: DateTime<Utc>,
}

/// Claims up to `limit` PENDING refunds of payments taken by `gateway`, as
/// `payments::claim_pending` claims payments.
pub async fn claim_pending(
    db: impl PgExecutor<'_>,
    gateway: &str,
    after: Duration,
    limit: i64,
    lease: Uuid,
) -> sqlx::Result<Vec<ClaimedRefund>> {
    sqlx::query_as(
        "UPDATE refunds r SET checked_at = now(), check_lease = $1
         FROM payments p
         WHERE p.id = r.payment_id
           AND r.id IN (
             SELECT rr.id FROM refunds rr JOIN payments pp ON pp.id = rr.payment_id
             WHERE rr.status = 'PENDING' AND pp.gateway = $2
               AND rr.attempted_at < now() - $3
               AND (rr.checked_at IS NULL OR rr.checked_at < now() - $3)
             ORDER BY rr.attempted_at
             LIMIT $4
             FOR UPDATE OF rr SKIP LOCKED)
         RETURNING r.id, r.payment_id, r.amount, p.currency,
                   p.gateway_reference AS charge_reference, r.created_at",
    )
    .bind(lease)
    .bind(gateway)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How long the oldest PENDING refund has waited, in seconds (0 when none is pending).
pub async fn oldest_pending_age(db: impl PgExecutor<'_>) -> sqlx::Result<f64> {
    sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::float8, 0)
         FROM refunds WHERE status = 'PENDING'",
    )
    .fetch_one(db)
    .await
}
