use std::time::Duration;

use chrono::{DateTime, Utc};
use service_kit::money::{Currency, Money};
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use super::seats::HeldSeatRow;
use crate::domain::HoldStatus;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HoldRow {
    pub id: Uuid,
    pub event_id: Uuid,
    pub holder_id: Uuid,
    /// As written down (the sweeper may not have marked an expired hold yet).
    pub status: HoldStatus,
    pub expires_at: DateTime<Utc>,
    pub order_id: Option<Uuid>,
    /// `expires_at <= now()`, by the database's clock.
    pub expired: bool,
    pub currency: Currency,
}

impl HoldRow {
    /// The status as it is now (an ACTIVE hold past its expiry is EXPIRED).
    pub fn effective_status(&self) -> HoldStatus {
        self.status.effective(self.expired)
    }
}

const SELECT: &str = "SELECT h.id, h.event_id, h.holder_id, h.status, h.expires_at, h.order_id,
                             h.expires_at <= now() AS expired, e.currency
                      FROM holds h JOIN events e ON e.id = h.event_id";

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<HoldRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE h.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Reads and locks the hold: allocation and release of one hold serialise here.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<HoldRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE h.id = $1 FOR UPDATE OF h"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Inserts an ACTIVE hold lasting `ttl` from now; returns its expiry.
pub async fn insert(
    conn: &mut PgConnection,
    id: Uuid,
    event_id: Uuid,
    holder_id: Uuid,
    ttl: Duration,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "INSERT INTO holds (id, event_id, holder_id, status, expires_at)
         VALUES ($1, $2, $3, 'ACTIVE', now() + $4) RETURNING expires_at",
    )
    .bind(id)
    .bind(event_id)
    .bind(holder_id)
    .bind(ttl)
    .fetch_one(conn)
    .await
}

/// Takes the transaction's lock on (holder, event), then counts the seats the holder's active
/// holds of the event still have (unexpired, not sold). Concurrent reserves of one holder and
/// event wait for each other here, so each count includes what the earlier ones committed.
/// The lock is taken after the hold's insert, the reserve's first statement, so a reserve
/// waiting here holds no row lock that anyone else waits for, except a cancellation's, which
/// waits for it anyway (architecture.md, point 9).
pub async fn lock_and_count_held(
    conn: &mut PgConnection,
    holder_id: Uuid,
    event_id: Uuid,
) -> sqlx::Result<i64> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1::text), hashtext($2::text))")
        .bind(holder_id)
        .bind(event_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query_scalar(
        "SELECT count(*) FROM holds h JOIN seats s ON s.hold_id = h.id
         WHERE h.holder_id = $1 AND h.event_id = $2 AND h.status = 'ACTIVE'
           AND s.held_until > now()",
    )
    .bind(holder_id)
    .bind(event_id)
    .fetch_one(conn)
    .await
}

pub async fn insert_seats(
    conn: &mut PgConnection,
    hold_id: Uuid,
    seats: &[HeldSeatRow],
) -> sqlx::Result<()> {
    let ids: Vec<Uuid> = seats.iter().map(|s| s.id).collect();
    let prices: Vec<Money> = seats.iter().map(|s| s.price).collect();
    sqlx::query(
        "INSERT INTO hold_seats (hold_id, seat_id, price)
         SELECT $1, seat_id, price FROM unnest($2::uuid[], $3::numeric[]) AS s(seat_id, price)",
    )
    .bind(hold_id)
    .bind(&ids)
    .bind(&prices)
    .execute(conn)
    .await?;
    Ok(())
}

/// The seats of a hold, with the prices they were held at.
pub async fn seats_of(db: impl PgExecutor<'_>, hold_id: Uuid) -> sqlx::Result<Vec<HeldSeatRow>> {
    sqlx::query_as(
        "SELECT s.id, s.section, s.row, s.number, hs.price
         FROM hold_seats hs JOIN seats s ON s.id = hs.seat_id
         WHERE hs.hold_id = $1 ORDER BY s.section, s.row, s.number",
    )
    .bind(hold_id)
    .fetch_all(db)
    .await
}

pub async fn set_status(conn: &mut PgConnection, id: Uuid, status: HoldStatus) -> sqlx::Result<()> {
    sqlx::query("UPDATE holds SET status = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(status)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn allocate(conn: &mut PgConnection, id: Uuid, order_id: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE holds SET status = 'ALLOCATED', order_id = $2, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Marks up to `limit` ACTIVE holds past their expiry as EXPIRED and frees the seats that still
/// point at them. Rows another sweeper (or an allocation) has locked are skipped. Returns how
/// many holds expired.
pub async fn expire_due(conn: &mut PgConnection, limit: i64) -> sqlx::Result<u64> {
    let expired: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE holds SET status = 'EXPIRED', updated_at = now()
         WHERE id IN (SELECT id FROM holds
                      WHERE status = 'ACTIVE' AND expires_at <= now()
                      ORDER BY expires_at LIMIT $1
                      FOR UPDATE SKIP LOCKED)
         RETURNING id",
    )
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    if !expired.is_empty() {
        sqlx::query(
            "UPDATE seats SET hold_id = NULL, held_until = NULL
             WHERE hold_id = ANY($1) AND sold_order_id IS NULL",
        )
        .bind(&expired)
        .execute(&mut *conn)
        .await?;
    }
    Ok(expired.len() as u64)
}

pub async fn count_active(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM holds WHERE status = 'ACTIVE' AND expires_at > now()")
        .fetch_one(db)
        .await
}

/// Releases every ACTIVE hold of a cancelled event and frees their seats.
pub async fn release_all_of_event(conn: &mut PgConnection, event_id: Uuid) -> sqlx::Result<u64> {
    let released = sqlx::query(
        "UPDATE holds SET status = 'RELEASED', updated_at = now()
         WHERE event_id = $1 AND status = 'ACTIVE'",
    )
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE seats SET hold_id = NULL, held_until = NULL
         WHERE event_id = $1 AND hold_id IS NOT NULL AND sold_order_id IS NULL",
    )
    .bind(event_id)
    .execute(&mut *conn)
    .await?;
    Ok(released.rows_affected())
}
