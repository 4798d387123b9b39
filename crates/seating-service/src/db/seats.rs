//! Seats, and the sale that keeps the invariant ([`sell_hold`]; the claim is
//! [`super::holds::reserve`]'s).

use service_kit::money::Money;
use service_kit::paging::Paging;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::SeatStatus;

/// A seat of an inventory, to insert or update.
#[derive(Debug, Clone)]
pub struct NewSeat {
    pub id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

/// A seat of a hold, with the price it was held at.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldSeatRow {
    pub id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

/// A seat's status as of now, computed in SQL the same way everywhere.
const STATUS: &str = "CASE WHEN sold_order_id IS NOT NULL THEN 'SOLD'
                           WHEN held_until > now() THEN 'HELD'
                           ELSE 'AVAILABLE' END";

/// Upserts an inventory: new seats are inserted; a known seat keeps its state and changes its
/// price only while it is available. Every seat sent is stamped with `publication` when there
/// is one. Returns the ids it matched, so that a seat id that belongs to another event (not
/// matched) can be reported.
pub async fn upsert(
    conn: &mut PgConnection,
    event_id: Uuid,
    seats: &[NewSeat],
    publication: Option<Uuid>,
) -> sqlx::Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = seats.iter().map(|s| s.id).collect();
    let sections: Vec<&str> = seats.iter().map(|s| s.section.as_str()).collect();
    let rows: Vec<&str> = seats.iter().map(|s| s.row.as_str()).collect();
    let numbers: Vec<i32> = seats.iter().map(|s| s.number).collect();
    let prices: Vec<Money> = seats.iter().map(|s| s.price).collect();
    sqlx::query_scalar(
        "INSERT INTO seats (id, event_id, section, row, number, price, publication_id)
         SELECT id, $1, section, row, number, price, $7
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::numeric[])
              AS s(id, section, row, number, price)
         ON CONFLICT (id) DO UPDATE
            SET price = CASE WHEN seats.sold_order_id IS NULL
                              AND (seats.held_until IS NULL OR seats.held_until <= now())
                             THEN EXCLUDED.price ELSE seats.price END,
                publication_id = COALESCE(EXCLUDED.publication_id, seats.publication_id)
            WHERE seats.event_id = EXCLUDED.event_id
         RETURNING id",
    )
    .bind(event_id)
    .bind(&ids)
    .bind(&sections)
    .bind(&rows)
    .bind(&numbers)
    .bind(&prices)
    .bind(publication)
    .fetch_all(conn)
    .await
}

/// A seat that was never open for sale: not held, not sold, in no hold's history. Only such
/// seats are ever deleted (the statements below are guarded by it; `hold_seats` keeps the
/// history of every seat that was held).
const NEVER_OPEN: &str = "s.hold_id IS NULL AND s.sold_order_id IS NULL
                          AND NOT EXISTS (SELECT 1 FROM hold_seats hs WHERE hs.seat_id = s.id)";

/// Of a draft being published: deletes the seats an earlier publication left at the places
/// `seats` now occupy under other ids (a place removed from the draft and defined again), so
/// that the new ids can take them. Returns how many.
pub async fn clear_replaced_places(
    conn: &mut PgConnection,
    event_id: Uuid,
    seats: &[NewSeat],
    publication: Uuid,
) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = seats.iter().map(|s| s.id).collect();
    let sections: Vec<&str> = seats.iter().map(|s| s.section.as_str()).collect();
    let rows: Vec<&str> = seats.iter().map(|s| s.row.as_str()).collect();
    let numbers: Vec<i32> = seats.iter().map(|s| s.number).collect();
    let done = sqlx::query(&format!(
        "DELETE FROM seats s
         USING unnest($2::uuid[], $3::text[], $4::text[], $5::int[]) AS n(id, section, row, number)
         WHERE s.event_id = $1 AND s.section = n.section AND s.row = n.row
           AND s.number = n.number AND s.id <> n.id
           AND s.publication_id IS DISTINCT FROM $6
           AND {NEVER_OPEN}"
    ))
    .bind(event_id)
    .bind(&ids)
    .bind(&sections)
    .bind(&rows)
    .bind(&numbers)
    .bind(publication)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Of a draft being opened by `publication`: deletes the seats no request of that publication
/// sent (left by an earlier one that failed, and since removed from the event), and returns how
/// many it deleted and how many such seats remain, which must be none: only seats that were
/// never open are deleted, and a draft's seats never were.
pub async fn remove_unpublished(
    conn: &mut PgConnection,
    event_id: Uuid,
    publication: Uuid,
) -> sqlx::Result<(u64, i64)> {
    let removed = sqlx::query(&format!(
        "DELETE FROM seats s
         WHERE s.event_id = $1 AND s.publication_id IS DISTINCT FROM $2 AND {NEVER_OPEN}"
    ))
    .bind(event_id)
    .bind(publication)
    .execute(&mut *conn)
    .await?;
    let left: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM seats WHERE event_id = $1 AND publication_id IS DISTINCT FROM $2",
    )
    .bind(event_id)
    .bind(publication)
    .fetch_one(conn)
    .await?;
    Ok((removed.rows_affected(), left))
}

/// Sells the seats that still point at `hold_id` and whose hold has not expired. Returns how
/// many; fewer than the hold has means some were lost to expiry, and the caller rolls back.
pub async fn sell_hold(
    conn: &mut PgConnection,
    hold_id: Uuid,
    order_id: Uuid,
) -> sqlx::Result<u64> {
    let sold = sqlx::query(
        "UPDATE seats SET sold_order_id = $2, hold_id = NULL, held_until = NULL
         WHERE hold_id = $1 AND sold_order_id IS NULL AND held_until > now()",
    )
    .bind(hold_id)
    .bind(order_id)
    .execute(conn)
    .await?;
    Ok(sold.rows_affected())
}

/// Makes the seats sold to `order_id` available again; returns those it changed (none when
/// repeated).
pub async fn return_sold(
    conn: impl sqlx::PgExecutor<'_>,
    event_id: Uuid,
    seat_ids: &[Uuid],
    order_id: Uuid,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "UPDATE seats SET sold_order_id = NULL
         WHERE event_id = $1 AND id = ANY($2) AND sold_order_id = $3
         RETURNING id",
    )
    .bind(event_id)
    .bind(seat_ids)
    .bind(order_id)
    .fetch_all(conn)
    .await
}

#[derive(Debug, sqlx::FromRow)]
pub struct SeatRow {
    pub id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
    /// Computed in SQL as of now ([`STATUS`]).
    pub status: SeatStatus,
}

/// Every seat of the event, in map order (the seat map).
pub async fn all_of(db: impl PgExecutor<'_>, event_id: Uuid) -> sqlx::Result<Vec<SeatRow>> {
    sqlx::query_as(&format!(
        "SELECT id, section, row, number, price, {STATUS} AS status
         FROM seats WHERE event_id = $1
         ORDER BY section, length(row), row, number, id"
    ))
    .bind(event_id)
    .fetch_all(db)
    .await
}

/// One page of the event's seats matching the filters, in map order, and how many match over
/// all pages.
pub async fn list(
    pool: &PgPool,
    event_id: Uuid,
    status: Option<SeatStatus>,
    section: Option<&str>,
    paging: Paging,
) -> sqlx::Result<(Vec<SeatRow>, i64)> {
    let matching = format!(
        "SELECT id, section, row, number, price, status FROM (
            SELECT id, section, row, number, price, {STATUS} AS status
            FROM seats WHERE event_id = $1 AND ($3::text IS NULL OR section = $3)
         ) s
         WHERE $2::text IS NULL OR status = $2"
    );
    let rows = sqlx::query_as(&format!(
        "{matching} ORDER BY section, length(row), row, number, id LIMIT $4 OFFSET $5"
    ))
    .bind(event_id)
    .bind(status.map(SeatStatus::as_str))
    .bind(section)
    .bind(paging.limit)
    .bind(paging.offset())
    .fetch_all(pool)
    .await?;
    let total = sqlx::query_scalar(&format!("SELECT count(*) FROM ({matching}) m"))
        .bind(event_id)
        .bind(status.map(SeatStatus::as_str))
        .bind(section)
        .fetch_one(pool)
        .await?;
    Ok((rows, total))
}

pub async fn count(db: impl PgExecutor<'_>, event_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM seats WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(db)
        .await
}
