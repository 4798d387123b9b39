//! Notifications: written with the message that asks for them, claimed by the sender with a
//! lease, settled once the mail server answered.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::{NotificationStatus, NotificationType};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: Uuid,
    pub message_id: Uuid,
    #[sqlx(rename = "type")]
    pub kind: NotificationType,
    pub user_id: Uuid,
    pub order_id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub data: Json<serde_json::Value>,
    pub status: NotificationStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, message_id, type, user_id, order_id, recipient, subject, data, status,
    attempts, next_attempt_at, last_error, sent_at, created_at, updated_at";

/// A notification as the consumer writes it down.
pub struct NewNotification<'a> {
    pub id: Uuid,
    pub message_id: Uuid,
    pub kind: NotificationType,
    pub user_id: Uuid,
    pub order_id: Uuid,
    pub recipient: &'a str,
    pub subject: &'a str,
    pub data: &'a serde_json::Value,
    /// `PENDING`, or `FAILED` with its reason for a notice that can never be sent (an address
    /// that is not one).
    pub failure: Option<&'a str>,
}

/// Writes the notification down, in the inbox's transaction. `false` when it exists already:
/// the same message id, or the same order and type under another message id.
pub async fn insert(conn: &mut PgConnection, new: &NewNotification<'_>) -> sqlx::Result<bool> {
    let status = if new.failure.is_some() {
        NotificationStatus::Failed
    } else {
        NotificationStatus::Pending
    };
    let done = sqlx::query(
        "INSERT INTO notifications (id, message_id, type, user_id, order_id, recipient, subject,
             data, status, last_error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING",
    )
    .bind(new.id)
    .bind(new.message_id)
    .bind(new.kind)
    .bind(new.user_id)
    .bind(new.order_id)
    .bind(new.recipient)
    .bind(new.subject)
    .bind(Json(new.data))
    .bind(status)
    .bind(new.failure)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<NotificationRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM notifications WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Which notifications a list shows: each filter applies when set.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter {
    pub user_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
}

impl ListFilter {
    /// `WHERE` with only the filters that are set, so each combination gets a plan that uses
    /// its index (a generic `($1 IS NULL OR user_id = $1)` plan cannot).
    fn push_where(self, query: &mut QueryBuilder<'_, Postgres>) {
        query.push(" WHERE TRUE");
        if let Some(user_id) = self.user_id {
            query.push(" AND user_id = ").push_bind(user_id);
        }
        if let Some(order_id) = self.order_id {
            query.push(" AND order_id = ").push_bind(order_id);
        }
    }
}

/// A page of notifications, newest first, and the total.
pub async fn list(
    db: &sqlx::PgPool,
    filter: ListFilter,
    limit: i64,
    offset: i64,
) -> sqlx::Result<(Vec<NotificationRow>, i64)> {
    let mut page = QueryBuilder::new(format!("SELECT {COLUMNS} FROM notifications"));
    filter.push_where(&mut page);
    page.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(limit)
        .push(" OFFSET ")
        .push_bind(offset);
    let rows = page.build_query_as().fetch_all(db).await?;
    let mut count = QueryBuilder::new("SELECT count(*) FROM notifications");
    filter.push_where(&mut count);
    let total = count.build_query_scalar().fetch_one(db).await?;
    Ok((rows, total))
}

/// Claims up to `limit` due PENDING notifications for one attempt each: in one short statement
/// the rows are locked (`SKIP LOCKED`: rows another sender is claiming are passed over), their
/// attempt is counted and their next attempt moved `lease` ahead, so no other sender finds them
/// due while this one sends, and a sender that dies mid-send leaves rows that fall due again.
pub async fn claim_due(
    db: impl PgExecutor<'_>,
    limit: i64,
    lease: Duration,
) -> sqlx::Result<Vec<NotificationRow>> {
    sqlx::query_as(
        "UPDATE notifications n
         SET attempts = n.attempts + 1, next_attempt_at = now() + $2, updated_at = now()
         FROM (SELECT id FROM notifications
               WHERE status = 'PENDING' AND next_attempt_at <= now()
               ORDER BY next_attempt_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED) due
         WHERE n.id = due.id
         RETURNING n.*",
    )
    .bind(limit)
    .bind(lease)
    .fetch_all(db)
    .await
}

/// The mail server accepted it.
pub async fn mark_sent(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE notifications SET status = 'SENT', sent_at = now(), last_error = NULL,
             updated_at = now()
         WHERE id = $1 AND status = 'PENDING'",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// The attempt failed for now: try again after `backoff`.
pub async fn defer(
    db: impl PgExecutor<'_>,
    id: Uuid,
    error: &str,
    backoff: Duration,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE notifications SET last_error = $2, next_attempt_at = now() + $3, updated_at = now()
         WHERE id = $1 AND status = 'PENDING'",
    )
    .bind(id)
    .bind(error)
    .bind(backoff)
    .execute(db)
    .await?;
    Ok(())
}

/// Refused for good (a permanent SMTP rejection): FAILED with the reason; never retried.
pub async fn mark_failed(db: impl PgExecutor<'_>, id: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE notifications SET status = 'FAILED', last_error = $2, updated_at = now()
         WHERE id = $1 AND status = 'PENDING'",
    )
    .bind(id)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// How many are pending, and the age in seconds of the oldest (0 when none).
pub async fn pending_stats(db: impl PgExecutor<'_>) -> sqlx::Result<(i64, f64)> {
    let (count, oldest): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), EXTRACT(EPOCH FROM now() - min(created_at))::float8
         FROM notifications WHERE status = 'PENDING'",
    )
    .fetch_one(db)
    .await?;
    Ok((count, oldest.unwrap_or(0.0).max(0.0)))
}

/// Puts FAILED notifications (all, or one) back to PENDING, due now, their attempts reset: for
/// after the cause of a permanent refusal was fixed (a mailbox restored, a relay rule changed).
pub async fn requeue_failed(db: impl PgExecutor<'_>, id: Option<Uuid>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE notifications SET status = 'PENDING', attempts = 0, next_attempt_at = now(),
             updated_at = now()
         WHERE status = 'FAILED' AND ($1::uuid IS NULL OR id = $1)",
    )
    .bind(id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
