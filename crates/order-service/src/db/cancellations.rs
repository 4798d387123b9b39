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

/// Cancelled events whose orders may still need undoing, oldest first: those not all undone
/// yet, and for a day those that were. An order of the event confirmed after the rest were undone
/// (seating and catalog learn of the cancellation at their own pace) is still found; after a
/// day no hold of the event can exist any more.
pub async fn open(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT event_id FROM event_cancellations
         WHERE finished_at IS NULL OR received_at > now() - interval '1 day'
         ORDER BY received_at",
    )
    .fetch_all(db)
    .await
}

/// Notes when every order of the event was first found settled.
pub async fn finish(db: impl PgExecutor<'_>, event_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE event_cancellations SET finished_at = now()
         WHERE event_id = $1 AND finished_at IS NULL",
    )
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
