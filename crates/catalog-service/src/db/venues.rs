use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use super::Slice;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VenueRow {
    pub id: Uuid,
    pub name: String,
    pub city: String,
    pub address: Option<String>,
    pub capacity: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

/// A venue to write (validated).
#[derive(Debug, Clone)]
pub struct NewVenue {
    pub name: String,
    pub city: String,
    pub address: Option<String>,
    pub capacity: i32,
}

const COLUMNS: &str = "id, name, city, address, capacity, created_by, created_at";

pub async fn insert(
    db: impl PgExecutor<'_>,
    venue: &NewVenue,
    created_by: Option<Uuid>,
) -> sqlx::Result<VenueRow> {
    sqlx::query_as(&format!(
        "INSERT INTO venues (id, name, city, address, capacity, created_by)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(&venue.name)
    .bind(&venue.city)
    .bind(&venue.address)
    .bind(venue.capacity)
    .bind(created_by)
    .fetch_one(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<VenueRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM venues WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn update(db: impl PgExecutor<'_>, id: Uuid, venue: &NewVenue) -> sqlx::Result<VenueRow> {
    sqlx::query_as(&format!(
        "UPDATE venues SET name = $2, city = $3, address = $4, capacity = $5, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&venue.name)
    .bind(&venue.city)
    .bind(&venue.address)
    .bind(venue.capacity)
    .fetch_one(db)
    .await
}

/// A page of venues, optionally in one city (any case), and the total.
pub async fn list(
    pool: &sqlx::PgPool,
    city: Option<&str>,
    slice: Slice,
) -> sqlx::Result<(Vec<VenueRow>, i64)> {
    let filter = |q: &mut QueryBuilder<'_, Postgres>| {
        if let Some(city) = city {
            q.push(" WHERE lower(city) = lower(")
                .push_bind(city.trim().to_owned())
                .push(")");
        }
    };
    let mut query = QueryBuilder::new(format!("SELECT {COLUMNS} FROM venues"));
    filter(&mut query);
    query
        .push(" ORDER BY name, id LIMIT ")
        .push_bind(slice.limit)
        .push(" OFFSET ")
        .push_bind(slice.offset);
    let rows = query.build_query_as().fetch_all(pool).await?;
    let mut count = QueryBuilder::new("SELECT count(*) FROM venues");
    filter(&mut count);
    let total = count.build_query_scalar().fetch_one(pool).await?;
    Ok((rows, total))
}

/// A venue of another system (the import, the demo generator), known by its `legacy_id`.
pub struct LegacyVenue<'a> {
    pub id: Uuid,
    pub name: &'a str,
    pub city: &'a str,
    pub capacity: i32,
    pub legacy_id: &'a str,
}

/// Inserts the venue, or refreshes the one already imported under its legacy id; its id, and
/// whether it is new.
pub async fn upsert_legacy(
    db: impl PgExecutor<'_>,
    venue: &LegacyVenue<'_>,
) -> sqlx::Result<(Uuid, bool)> {
    sqlx::query_as(
        "INSERT INTO venues (id, name, city, capacity, legacy_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (legacy_id) DO UPDATE
            SET name = EXCLUDED.name, city = EXCLUDED.city, capacity = EXCLUDED.capacity,
                updated_at = now()
         RETURNING id, (xmax = 0)",
    )
    .bind(venue.id)
    .bind(venue.name)
    .bind(venue.city)
    .bind(venue.capacity)
    .bind(venue.legacy_id)
    .fetch_one(db)
    .await
}

/// Inserts the venues in one statement; those whose legacy id exists already are left alone.
pub async fn insert_legacy_batch(
    db: impl PgExecutor<'_>,
    venues: &[LegacyVenue<'_>],
) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = venues.iter().map(|v| v.id).collect();
    let names: Vec<&str> = venues.iter().map(|v| v.name).collect();
    let cities: Vec<&str> = venues.iter().map(|v| v.city).collect();
    let capacities: Vec<i32> = venues.iter().map(|v| v.capacity).collect();
    let legacy: Vec<&str> = venues.iter().map(|v| v.legacy_id).collect();
    let done = sqlx::query(
        "INSERT INTO venues (id, name, city, capacity, legacy_id)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[])
         ON CONFLICT (legacy_id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&names)
    .bind(&cities)
    .bind(&capacities)
    .bind(&legacy)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
