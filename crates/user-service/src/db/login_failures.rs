use std::time::Duration;

use sqlx::PgExecutor;

/// Failures within the window, for the e-mail and for the address, with the age in seconds of
/// the oldest of each (to compute `Retry-After`).
#[derive(Debug, sqlx::FromRow)]
pub struct RecentFailures {
    pub by_email: i64,
    pub by_address: i64,
    pub oldest_email_age: Option<f64>,
    pub oldest_address_age: Option<f64>,
}

pub async fn recent(
    db: impl PgExecutor<'_>,
    email: &str,
    address: &str,
    window: Duration,
) -> sqlx::Result<RecentFailures> {
    sqlx::query_as(
        "SELECT count(*) FILTER (WHERE email = $1) AS by_email,
                count(*) FILTER (WHERE address = $2) AS by_address,
                EXTRACT(EPOCH FROM now() - min(failed_at) FILTER (WHERE email = $1))::float8
                    AS oldest_email_age,
                EXTRACT(EPOCH FROM now() - min(failed_at) FILTER (WHERE address = $2))::float8
                    AS oldest_address_age
         FROM login_failures
         WHERE failed_at > now() - $3 AND (email = $1 OR address = $2)",
    )
    .bind(email)
    .bind(address)
    .bind(window)
    .fetch_one(db)
    .await
}

/// Writes an attempt down (it counts as a failure unless it succeeds or is refused); its id.
pub async fn record(db: impl PgExecutor<'_>, email: &str, address: &str) -> sqlx::Result<i64> {
    sqlx::query_scalar("INSERT INTO login_failures (email, address) VALUES ($1, $2) RETURNING id")
        .bind(email)
        .bind(address)
        .fetch_one(db)
        .await
}

/// Forgets an attempt that was refused before it was tried.
pub async fn forget(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// A successful login forgives the e-mail's failures (not the address's: one good account
/// must not unlock guessing at others from the same address).
pub async fn clear_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE email = $1")
        .bind(email)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn purge_older_than(db: impl PgExecutor<'_>, age: Duration) -> sqlx::Result<u64> {
    let done = sqlx::query("DELETE FROM login_failures WHERE failed_at < now() - $1")
        .bind(age)
        .execute(db)
        .await?;
    Ok(done.rows_affected())
}
