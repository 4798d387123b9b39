use service_kit::money::Money;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::SeatDef;

/// A seat of the catalogue.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SeatRow {
    pub id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
    /// Its id in the original system, for imported seats.
    pub legacy_id: Option<String>,
}

/// Replaces the event's seats (drafts only). A place (section, row, number) that stays keeps its
/// seat id, so seating, which may already have the seats from a publish that failed half-way,
/// recognises them.
pub async fn replace(
    conn: &mut PgConnection,
    event_id: Uuid,
    seats: &[SeatDef],
) -> sqlx::Result<()> {
    let sections: Vec<&str> = seats.iter().map(|s| s.section.as_str()).collect();
    let rows: Vec<&str> = seats.iter().map(|s| s.row.as_str()).collect();
    let numbers: Vec<i32> = seats.iter().map(|s| s.number).collect();
    let prices: Vec<Money> = seats.iter().map(|s| s.price).collect();
    let ids: Vec<Uuid> = seats.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "DELETE FROM seats WHERE event_id = $1 AND (section, row, number) NOT IN (
            SELECT * FROM unnest($2::text[], $3::text[], $4::int[]))",
    )
    .bind(event_id)
    .bind(&sections)
    .bind(&rows)
    .bind(&numbers)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO seats (id, event_id, section, row, number, price)
         SELECT id, $1, section, row, number, price
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::numeric[])
              AS s(id, section, row, number, price)
         ON CONFLICT (event_id, section, row, number) DO UPDATE SET price = EXCLUDED.price",
    )
    .bind(event_id)
    .bind(&ids)
    .bind(&sections)
    .bind(&rows)
    .bind(&numbers)
    .bind(&prices)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One multi-row insert through arrays; `legacy_ids` for imported seats (re-imports update).
pub async fn insert_batch(
    db: impl PgExecutor<'_>,
    event_id: Uuid,
    ids: &[Uuid],
    seats: &[SeatDef],
    legacy_ids: Option<&[String]>,
) -> sqlx::Result<u64> {
    let sections: Vec<&str> = seats.iter().map(|s| s.section.as_str()).collect();
    let rows: Vec<&str> = seats.iter().map(|s| s.row.as_str()).collect();
    let numbers: Vec<i32> = seats.iter().map(|s| s.number).collect();
    let prices: Vec<Money> = seats.iter().map(|s| s.price).collect();
    let legacy: Vec<Option<String>> = match legacy_ids {
        Some(l) => l.iter().cloned().map(Some).collect(),
        None => vec![None; seats.len()],
    };
    let done = sqlx::query(
        "INSERT INTO seats (id, event_id, section, row, number, price, legacy_id)
         SELECT id, $1, section, row, number, price, legacy_id
         FROM unnest($2::uuid[], $3::text[], $4::text[], $5::int[], $6::numeric[], $7::text[])
              AS s(id, section, row, number, price, legacy_id)
         ON CONFLICT (legacy_id) DO UPDATE SET price = EXCLUDED.price",
    )
    .bind(event_id)
    .bind(ids)
    .bind(&sections)
    .bind(&rows)
    .bind(&numbers)
    .bind(&prices)
    .bind(&legacy)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// A seat to write with its id and event (the demo generator's, across events).
pub struct PlacedSeat<'a> {
    pub id: Uuid,
    pub event_id: Uuid,
    pub seat: &'a SeatDef,
}

/// Inserts the seats in one statement; ids that exist already are left alone.
pub async fn insert_placed_batch(
    db: impl PgExecutor<'_>,
    seats: &[PlacedSeat<'_>],
) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = seats.iter().map(|s| s.id).collect();
    let events: Vec<Uuid> = seats.iter().map(|s| s.event_id).collect();
    let sections: Vec<&str> = seats.iter().map(|s| s.seat.section.as_str()).collect();
    let rows: Vec<&str> = seats.iter().map(|s| s.seat.row.as_str()).collect();
    let numbers: Vec<i32> = seats.iter().map(|s| s.seat.number).collect();
    let prices: Vec<Money> = seats.iter().map(|s| s.seat.price).collect();
    let done = sqlx::query(
        "INSERT INTO seats (id, event_id, section, row, number, price)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[],
                              $6::numeric[])
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&events)
    .bind(&sections)
    .bind(&rows)
    .bind(&numbers)
    .bind(&prices)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// The event's seats in map order.
pub async fn list(db: impl PgExecutor<'_>, event_id: Uuid) -> sqlx::Result<Vec<SeatRow>> {
    sqlx::query_as(
        "SELECT id, section, row, number, price, legacy_id FROM seats WHERE event_id = $1
         ORDER BY section, length(row), row, number",
    )
    .bind(event_id)
    .fetch_all(db)
    .await
}

/// How many of these legacy ids are imported already.
pub async fn count_legacy(db: impl PgExecutor<'_>, legacy_ids: &[String]) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM seats WHERE legacy_id = ANY($1)")
        .bind(legacy_ids)
        .fetch_one(db)
        .await
}

pub async fn count(db: impl PgExecutor<'_>, event_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM seats WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(db)
        .await
}
