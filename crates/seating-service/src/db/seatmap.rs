//! What the seat map's cache reads: the versions (kept by the triggers of migration
//! `seat_versions`: an event's version is the sum of its shards), the statuses, and the layout.

use service_kit::money::{Currency, Money};
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::EventStatus;

#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Versions {
    pub event_id: Uuid,
    pub version: i64,
    pub layout_version: i64,
}

/// The versions of these events (0 for an event no seat statement has touched yet).
pub async fn versions(db: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<Versions>> {
    sqlx::query_as(
        "SELECT e.id AS event_id,
                COALESCE(sum(v.version), 0)::bigint AS version,
                COALESCE(sum(v.layout_version), 0)::bigint AS layout_version
         FROM events e LEFT JOIN seat_versions v ON v.event_id = e.id
         WHERE e.id = ANY($1)
         GROUP BY e.id",
    )
    .bind(ids)
    .fetch_all(db)
    .await
}

/// An event's map as of one instant: its status, versions, and one character per seat in map
/// order (`A` available, `H` held, `S` sold).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StatusRow {
    pub status: EventStatus,
    pub sold_out: bool,
    pub currency: Option<Currency>,
    pub version: i64,
    pub layout_version: i64,
    pub statuses: String,
}

/// The map order, the same as the seat list's; [`statuses`] and [`layout`] must agree on it.
const MAP_ORDER: &str = "section, length(row), row, number, id";

/// One statement, so one snapshot: the version read is the version of the statuses read.
/// A seat is held while a hold points at it: a hold past its expiry reads `H` until the sweeper
/// writes the expiry down (which moves the version).
pub async fn statuses(db: impl PgExecutor<'_>, event_id: Uuid) -> sqlx::Result<Option<StatusRow>> {
    sqlx::query_as(&format!(
        "SELECT e.status, e.sold_out, e.currency,
                COALESCE(v.version, 0)::bigint AS version,
                COALESCE(v.layout_version, 0)::bigint AS layout_version,
                COALESCE((SELECT string_agg(CASE WHEN s.sold_order_id IS NOT NULL THEN 'S'
                                                 WHEN s.hold_id IS NOT NULL THEN 'H'
                                                 ELSE 'A' END, '' ORDER BY {MAP_ORDER})
                          FROM seats s WHERE s.event_id = e.id), '') AS statuses
         FROM events e
         LEFT JOIN (SELECT sum(version) AS version, sum(layout_version) AS layout_version
                    FROM seat_versions WHERE event_id = $1) v ON true
         WHERE e.id = $1"
    ))
    .bind(event_id)
    .fetch_optional(db)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LayoutSeatRow {
    pub id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

/// The statuses and the seats they belong to, read in one snapshot (a repeatable-read
/// transaction), so that positions and statuses agree.
pub async fn layout(
    pool: &PgPool,
    event_id: Uuid,
) -> sqlx::Result<Option<(StatusRow, Vec<LayoutSeatRow>)>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let Some(head) = statuses(&mut *tx, event_id).await? else {
        return Ok(None);
    };
    let seats = sqlx::query_as(&format!(
        "SELECT id, section, row, number, price FROM seats WHERE event_id = $1 ORDER BY {MAP_ORDER}"
    ))
    .bind(event_id)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((head, seats)))
}
