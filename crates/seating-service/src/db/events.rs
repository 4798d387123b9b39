use service_kit::money::Currency;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::EventStatus;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    /// `None` only for an event cancelled before any inventory arrived.
    pub currency: Option<Currency>,
    pub status: EventStatus,
    pub sold_out: bool,
}

impl EventRow {
    pub fn cancelled(&self) -> bool {
        self.status == EventStatus::Cancelled
    }

    /// Whether buyers may see its seats: not while a publication is still sending them.
    pub fn published(&self) -> bool {
        self.status != EventStatus::Draft
    }

    /// As catalog names it: ON_SALE, SOLD_OUT or CANCELLED.
    pub fn public_status(&self) -> &'static str {
        match (self.cancelled(), self.sold_out) {
            (true, _) => "CANCELLED",
            (false, true) => "SOLD_OUT",
            (false, false) => "ON_SALE",
        }
    }
}

const COLUMNS: &str = "id, currency, status, sold_out";

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<EventRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM events WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Creates the event on its first inventory, in status `initial`; locks its row either way for
/// the rest of the transaction (an existing event keeps its status).
pub async fn upsert_locked(
    conn: &mut PgConnection,
    id: Uuid,
    currency: Currency,
    initial: EventStatus,
) -> sqlx::Result<EventRow> {
    sqlx::query_as(&format!(
        "INSERT INTO events (id, currency, status) VALUES ($1, $2, $3)
         ON CONFLICT (id) DO UPDATE SET updated_at = now()
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(currency)
    .bind(initial)
    .fetch_one(conn)
    .await
}

/// Puts a draft on sale (the row is locked by the caller); false when it was not a draft.
pub async fn open(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE events SET status = 'ON_SALE', updated_at = now() WHERE id = $1 AND status = 'DRAFT'",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Flips `sold_out` where the seats say so: on for events on sale whose every seat is sold, off
/// for sold-out events with a seat unsold again. Each flip is a conditional UPDATE, so two
/// sweepers at once flip an event once. The events flipped, with their new `sold_out`.
pub async fn flip_sold_out(conn: &mut PgConnection) -> sqlx::Result<Vec<(Uuid, bool)>> {
    sqlx::query_as(
        "WITH sold_out AS (
             UPDATE events e SET sold_out = true, updated_at = now()
             WHERE e.status = 'ON_SALE' AND NOT e.sold_out
               AND EXISTS (SELECT 1 FROM seats s WHERE s.event_id = e.id)
               AND NOT EXISTS (SELECT 1 FROM seats s
                               WHERE s.event_id = e.id AND s.sold_order_id IS NULL)
             RETURNING e.id),
         available AS (
             UPDATE events e SET sold_out = false, updated_at = now()
             WHERE e.status = 'ON_SALE' AND e.sold_out
               AND EXISTS (SELECT 1 FROM seats s
                           WHERE s.event_id = e.id AND s.sold_order_id IS NULL)
             RETURNING e.id)
         SELECT id, true FROM sold_out UNION ALL SELECT id, false FROM available",
    )
    .fetch_all(conn)
    .await
}

/// Marks the event cancelled (creating it when seating never had its inventory, so that a late
/// inventory cannot put it on sale).
pub async fn cancel(conn: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<()> {
    // FOR UPDATE, the one lock that conflicts with the key-share lock a reserve's new hold takes
    // on the event: reserves under way finish first (and their holds are then released below),
    // later ones find the event cancelled when they claim.
    sqlx::query("SELECT 1 FROM events WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO events (id, currency, status, cancel_reason) VALUES ($1, NULL, 'CANCELLED', $2)
         ON CONFLICT (id) DO UPDATE
            SET status = 'CANCELLED', cancel_reason = EXCLUDED.cancel_reason, updated_at = now()",
    )
    .bind(id)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(())
}
