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

/// A row of `seating_reserve` (migration 20261206100001): the reserve in one statement.
#[derive(Debug, sqlx::FromRow)]
pub struct ReserveRow {
    /// `held`; `no_event`, `not_on_sale`, `limit`; or, per requested seat when some could not
    /// be had, `free`, `taken` or `unknown`.
    pub outcome: String,
    pub currency: Option<Currency>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The seats the holder held before.
    pub held: i64,
    pub id: Option<Uuid>,
    pub section: Option<String>,
    pub row: Option<String>,
    pub number: Option<i32>,
    pub price: Option<Money>,
}

/// Inserts an ACTIVE hold of `seat_ids` lasting `ttl`, all of them or none, unless the holder
/// would then hold more than `max_held` seats of the event: one statement, one transaction
/// (the steps are `seating_reserve`'s, documented in docs/architecture.md).
pub async fn reserve(
    db: impl PgExecutor<'_>,
    id: Uuid,
    event_id: Uuid,
    holder_id: Uuid,
    seat_ids: &[Uuid],
    ttl: Duration,
    max_held: i64,
) -> sqlx::Result<Vec<ReserveRow>> {
    sqlx::query_as("SELECT * FROM seating_reserve($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(event_id)
        .bind(holder_id)
        .bind(seat_ids)
        .bind(ttl)
        .bind(max_held)
        .fetch_all(db)
        .await
}

/// A row of `seating_release`: the hold after the call, and one of its seats.
#[derive(Debug, sqlx::FromRow)]
pub struct ReleasedRow {
    /// Effective: RELEASED, or what the hold already was (EXPIRED, RELEASED, ALLOCATED).
    pub status: HoldStatus,
    pub event_id: Uuid,
    pub holder_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub order_id: Option<Uuid>,
    pub currency: Currency,
    #[sqlx(flatten)]
    pub seat: HeldSeatRow,
}

/// Releases the hold if it is ACTIVE and unexpired, and frees its seats, in one statement; only
/// a hold of `holder_id` when given. No rows: no such hold (or another holder's).
pub async fn release(
    db: impl PgExecutor<'_>,
    id: Uuid,
    holder_id: Option<Uuid>,
) -> sqlx::Result<Vec<ReleasedRow>> {
    sqlx::query_as("SELECT * FROM seating_release($1, $2)")
        .bind(id)
        .bind(holder_id)
        .fetch_all(db)
        .await
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
