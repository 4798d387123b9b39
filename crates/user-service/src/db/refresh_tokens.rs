use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

pub async fn insert(
    db: impl PgExecutor<'_>,
    family_id: Uuid,
    user_id: Uuid,
    token_hash: &[u8],
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(family_id)
    .bind(user_id)
    .bind(token_hash)
    .bind(expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// Marks a live token used, in one conditional statement: of two concurrent refreshes with the
/// same token, exactly one gets the row back. Returns `(family_id, user_id)`.
pub async fn consume(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    sqlx::query_as(
        "UPDATE refresh_tokens SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
         RETURNING family_id, user_id",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// The family of a token that was already used: presenting it again is a reuse.
pub async fn family_of_used(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND used_at IS NOT NULL",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// The family of a token, if it belongs to `user_id`.
pub async fn family_of(
    db: impl PgExecutor<'_>,
    token_hash: &[u8],
    user_id: Uuid,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2",
    )
    .bind(token_hash)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Ends every session of a user (a role or password change).
pub async fn revoke_all_of(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

pub async fn revoke_family(db: impl PgExecutor<'_>, family_id: Uuid) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL",
    )
    .bind(family_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// Deletes tokens that expired more than a day ago (the grace keeps reuse detection working for
/// tokens that have only just expired).
pub async fn purge_expired(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    let done =
        sqlx::query("DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'")
            .execute(db)
            .await?;
    Ok(done.rows_affected())
}
