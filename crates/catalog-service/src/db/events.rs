use std::time::Duration;

use chrono::{DateTime, Utc};
use service_kit::money::{Currency, Money};
use sqlx::{PgConnection, PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::Slice;
use crate::domain::{EventStatus, EventType};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub title: String,
    pub slug: String,
    pub event_type: EventType,
    pub status: EventStatus,
    pub starts_at: DateTime<Utc>,
    pub currency: Currency,
    pub base_price: Money,
    pub description: Option<String>,
    pub venue_id: Uuid,
    pub venue_name: String,
    pub venue_city: String,
    pub organizer_id: Uuid,
    pub seat_count: i32,
    pub cancel_reason: Option<String>,
    pub legacy_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT: &str =
    "SELECT e.id, e.title, e.slug, e.event_type, e.status, e.starts_at, e.currency,
        e.base_price, e.description, e.venue_id, v.name AS venue_name, v.city AS venue_city,
        e.organizer_id, e.seat_count, e.cancel_reason, e.legacy_id, e.created_at, e.updated_at
    FROM events e JOIN venues v ON v.id = e.venue_id";

/// Everything an event row needs.
pub struct EventFields<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub slug: &'a str,
    pub event_type: EventType,
    pub status: EventStatus,
    pub starts_at: DateTime<Utc>,
    pub currency: Currency,
    pub base_price: Money,
    pub description: Option<&'a str>,
    pub venue_id: Uuid,
    pub organizer_id: Uuid,
    pub legacy_id: Option<&'a str>,
}

/// Inserts, or (for a legacy id already imported) updates the imported fields; the id.
pub async fn upsert(db: impl PgExecutor<'_>, e: &EventFields<'_>) -> sqlx::Result<(Uuid, bool)> {
    sqlx::query_as(
        "INSERT INTO events (id, title, slug, event_type, status, starts_at, currency, base_price,
                             description, venue_id, organizer_id, legacy_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (legacy_id) DO UPDATE
            SET title = EXCLUDED.title, event_type = EXCLUDED.event_type,
                starts_at = EXCLUDED.starts_at, base_price = EXCLUDED.base_price,
                venue_id = EXCLUDED.venue_id, updated_at = now()
         RETURNING id, (xmax = 0) AS inserted",
    )
    .bind(e.id)
    .bind(e.title)
    .bind(e.slug)
    .bind(e.event_type.as_str())
    .bind(e.status.as_str())
    .bind(e.starts_at)
    .bind(e.currency)
    .bind(e.base_price)
    .bind(e.description)
    .bind(e.venue_id)
    .bind(e.organizer_id)
    .bind(e.legacy_id)
    .fetch_one(db)
    .await
}

/// Inserts the events in one statement; those whose legacy id exists already are left alone.
pub async fn insert_legacy_batch(
    db: impl PgExecutor<'_>,
    events: &[EventFields<'_>],
) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let titles: Vec<&str> = events.iter().map(|e| e.title).collect();
    let slugs: Vec<&str> = events.iter().map(|e| e.slug).collect();
    let types: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
    let statuses: Vec<EventStatus> = events.iter().map(|e| e.status).collect();
    let starts: Vec<DateTime<Utc>> = events.iter().map(|e| e.starts_at).collect();
    let currencies: Vec<Currency> = events.iter().map(|e| e.currency).collect();
    let prices: Vec<Money> = events.iter().map(|e| e.base_price).collect();
    let descriptions: Vec<Option<&str>> = events.iter().map(|e| e.description).collect();
    let venues: Vec<Uuid> = events.iter().map(|e| e.venue_id).collect();
    let organizers: Vec<Uuid> = events.iter().map(|e| e.organizer_id).collect();
    let legacy: Vec<Option<&str>> = events.iter().map(|e| e.legacy_id).collect();
    let done = sqlx::query(
        "INSERT INTO events (id, title, slug, event_type, status, starts_at, currency, base_price,
                             description, venue_id, organizer_id, legacy_id)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                              $6::timestamptz[], $7::text[], $8::numeric[], $9::text[],
                              $10::uuid[], $11::uuid[], $12::text[])
         ON CONFLICT (legacy_id) DO NOTHING",
    )
    .bind(&ids)
    .bind(&titles)
    .bind(&slugs)
    .bind(&types)
    .bind(&statuses)
    .bind(&starts)
    .bind(&currencies)
    .bind(&prices)
    .bind(&descriptions)
    .bind(&venues)
    .bind(&organizers)
    .bind(&legacy)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<EventRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE e.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Reads and locks the event row for the rest of the transaction.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<EventRow>> {
    sqlx::query_as(&format!("{SELECT} WHERE e.id = $1 FOR UPDATE OF e"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub struct Changes<'a> {
    pub title: Option<&'a str>,
    pub description: Option<&'a str>,
    pub event_type: Option<EventType>,
    pub starts_at: Option<DateTime<Utc>>,
    pub base_price: Option<Money>,
    pub venue_id: Option<Uuid>,
}

pub async fn update(conn: &mut PgConnection, id: Uuid, c: &Changes<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE events SET title = COALESCE($2, title), description = COALESCE($3, description),
            event_type = COALESCE($4, event_type), starts_at = COALESCE($5, starts_at),
            base_price = COALESCE($6, base_price), venue_id = COALESCE($7, venue_id),
            updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(c.title)
    .bind(c.description)
    .bind(c.event_type.map(EventType::as_str))
    .bind(c.starts_at)
    .bind(c.base_price)
    .bind(c.venue_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves the event from `from` to `to`; false when it was not in `from`.
pub async fn transition(
    db: impl PgExecutor<'_>,
    id: Uuid,
    from: &[EventStatus],
    to: EventStatus,
) -> sqlx::Result<bool> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    let done = sqlx::query(
        "UPDATE events SET status = $3, updated_at = now() WHERE id = $1 AND status = ANY($2)",
    )
    .bind(id)
    .bind(&from)
    .bind(to.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Cancels the event; a publication in progress ends with it (it will not put it on sale).
pub async fn cancel(conn: &mut PgConnection, id: Uuid, reason: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE events SET status = 'CANCELLED', cancel_reason = $2, updated_at = now(),
                           publication_id = NULL, publication_started_at = NULL
         WHERE id = $1 AND status <> 'CANCELLED'",
    )
    .bind(id)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How long a publication keeps the event to itself after it started or last sent seats: far
/// longer than one request to seating takes (with the client's timeout and retries), short
/// enough that a publication whose process died is taken over soon.
pub const PUBLICATION_LEASE: Duration = Duration::from_secs(120);

/// Records `publication` as the event's (the row is locked by the caller), unless another one
/// holds it (its lease has not run out): then false.
pub async fn begin_publication(
    conn: &mut PgConnection,
    id: Uuid,
    publication: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE events SET publication_id = $2, publication_started_at = now()
         WHERE id = $1 AND status = 'DRAFT'
           AND (publication_id IS NULL OR publication_started_at <= now() - $3)",
    )
    .bind(id)
    .bind(publication)
    .bind(PUBLICATION_LEASE)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Whether a publication holds the event (its lease has not run out).
pub async fn publication_in_progress(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let held: Option<bool> =
        sqlx::query_scalar("SELECT publication_started_at > now() - $2 FROM events WHERE id = $1")
            .bind(id)
            .bind(PUBLICATION_LEASE)
            .fetch_optional(db)
            .await?
            .flatten();
    Ok(held == Some(true))
}

/// Renews the lease of `publication`; false when it no longer holds the event (cancelled, or
/// taken over after its lease ran out).
pub async fn renew_publication(
    db: impl PgExecutor<'_>,
    id: Uuid,
    publication: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE events SET publication_started_at = now()
         WHERE id = $1 AND status = 'DRAFT' AND publication_id = $2",
    )
    .bind(id)
    .bind(publication)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts the draft on sale and ends `publication`; false when it no longer holds the draft.
pub async fn finish_publication(
    db: impl PgExecutor<'_>,
    id: Uuid,
    publication: Uuid,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE events SET status = 'ON_SALE', publication_id = NULL,
                           publication_started_at = NULL, updated_at = now()
         WHERE id = $1 AND status = 'DRAFT' AND publication_id = $2",
    )
    .bind(id)
    .bind(publication)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Forgets the event's publication: `Some(id)` only that one (it failed, and a retry need not
/// wait for its lease), `None` whichever (one whose lease ran out, before the seats change).
pub async fn clear_publication(
    db: impl PgExecutor<'_>,
    id: Uuid,
    publication: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE events SET publication_id = NULL, publication_started_at = NULL
         WHERE id = $1 AND publication_id = COALESCE($2, publication_id)",
    )
    .bind(id)
    .bind(publication)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_seat_count(db: impl PgExecutor<'_>, id: Uuid, count: i32) -> sqlx::Result<()> {
    set_seat_counts(db, &[id], count).await
}

/// The same seat count for several events.
pub async fn set_seat_counts(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
    count: i32,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE events SET seat_count = $2, updated_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .bind(count)
        .execute(db)
        .await?;
    Ok(())
}

/// A validated event search; `None` matches everything.
#[derive(Debug, Default)]
pub struct EventFilter {
    pub city: Option<String>,
    pub event_type: Option<EventType>,
    pub status: Option<EventStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub q: Option<String>,
    pub venue_id: Option<Uuid>,
}

/// Who is asking, for the draft rule.
#[derive(Debug, Clone, Copy)]
pub enum Audience {
    Public,
    Organizer(Uuid),
    Admin,
}

/// A page of events matching `filter` and visible to `audience`, by start time, and the total.
pub async fn list(
    pool: &PgPool,
    filter: &EventFilter,
    audience: Audience,
    slice: Slice,
) -> sqlx::Result<(Vec<EventRow>, i64)> {
    let mut query = QueryBuilder::new(SELECT);
    push_filter(&mut query, filter, audience);
    query
        .push(" ORDER BY e.starts_at, e.id LIMIT ")
        .push_bind(slice.limit)
        .push(" OFFSET ")
        .push_bind(slice.offset);
    let rows = query.build_query_as().fetch_all(pool).await?;
    let mut count =
        QueryBuilder::new("SELECT count(*) FROM events e JOIN venues v ON v.id = e.venue_id");
    push_filter(&mut count, filter, audience);
    let total = count.build_query_scalar().fetch_one(pool).await?;
    Ok((rows, total))
}

/// Only the conditions that are set, so the planner sees a plain query it can index.
fn push_filter(q: &mut QueryBuilder<'_, Postgres>, f: &EventFilter, audience: Audience) {
    q.push(" WHERE TRUE");
    match audience {
        Audience::Public => {
            q.push(" AND e.status <> 'DRAFT'");
        }
        Audience::Organizer(id) => {
            q.push(" AND (e.status <> 'DRAFT' OR e.organizer_id = ")
                .push_bind(id)
                .push(")");
        }
        Audience::Admin => {}
    }
    if let Some(status) = f.status {
        q.push(" AND e.status = ").push_bind(status.as_str());
    }
    if let Some(event_type) = f.event_type {
        q.push(" AND e.event_type = ")
            .push_bind(event_type.as_str());
    }
    if let Some(city) = &f.city {
        q.push(" AND e.city_key = lower(")
            .push_bind(city.trim().to_owned())
            .push(")");
    }
    if let Some(venue_id) = f.venue_id {
        q.push(" AND e.venue_id = ").push_bind(venue_id);
    }
    if let Some(from) = f.from {
        q.push(" AND e.starts_at >= ").push_bind(from);
    }
    if let Some(to) = f.to {
        q.push(" AND e.starts_at < ").push_bind(to);
    }
    if let Some(words) = &f.q {
        q.push(" AND e.search @@ plainto_tsquery('simple', ")
            .push_bind(words.clone())
            .push(")");
    }
}

/// How many events the catalogue has (`seed-demo --if-empty`).
pub async fn count_all(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(db)
        .await
}
