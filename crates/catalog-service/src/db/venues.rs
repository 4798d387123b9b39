use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::api::{NewVenue, Paging, VenueView};

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

impl From<VenueRow> for VenueView {
    fn from(v: VenueRow) -> Self {
        Self {
            id: v.id,
            name: v.name,
            city: v.city,
            address: v.address,
            capacity: v.capacity,
            created_at: v.created_at,
        }
    }
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
    paging: Paging,
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
        .push_bind(paging.limit)
        .push(" OFFSET ")
        .push_bind(paging.offset());
    let rows = query.build_query_as().fetch_all(pool).await?;
    let mut count = QueryBuilder::new("SELECT count(*) FROM venues");
    filter(&mut count);
    let total = count.build_query_scalar().fetch_one(pool).await?;
    Ok((rows, total))
}
