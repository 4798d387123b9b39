//! Events catalog cancelled, whose orders are being undone in batches.

use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

/// Records the cancellation (in the inbox's transaction); a repeat changes nothing.
pub async fn record(conn: &mut PgConnection, event_id: Uuid, reason: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO event_cancellations (event_id, reason) VALUES ($1, $2)
         ON CONFLICT (event_id) DO NOTHING",
    )
    .bind(event_id)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// Cancelled events whose orders are not all undone yet, oldest first.
pub async fn open(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT event_id FROM event_cancellations WHERE finished_at IS NULL ORDER BY received_at",
    )
    .fetch_all(db)
    .await
}

pub async fn finish(db: impl PgExecutor<'_>, event_id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE event_cancellations SET finished_at = now() WHERE event_id = $1")
        .bind(event_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether catalog cancelled the event (orders for it are refused and undone).
pub async fn is_cancelled(db: impl PgExecutor<'_>, event_id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM event_cancellations WHERE event_id = $1)")
        .bind(event_id)
        .fetch_one(db)
        .await
}
