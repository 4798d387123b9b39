use chrono::{DateTime, Utc};
use service_kit::auth::Role;
use sqlx::{PgConnection, PgExecutor};
use uuid::Uuid;

use crate::domain::Email;

/// A row of `users`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
    pub role: Role,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, email, phone, role, password_hash, created_at";

pub struct NewUser<'a> {
    pub name: &'a str,
    pub email: &'a Email,
    pub phone: Option<&'a str>,
    pub role: Role,
    pub password_hash: &'a str,
}

/// Fails with the `users_email_key` constraint when the e-mail is taken in any case.
pub async fn insert(db: impl PgExecutor<'_>, user: &NewUser<'_>) -> sqlx::Result<UserRow> {
    sqlx::query_as(&format!(
        "INSERT INTO users (id, name, email, email_key, phone, role, password_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(user.name)
    .bind(user.email.as_str())
    .bind(user.email.key())
    .bind(user.phone)
    .bind(user.role)
    .bind(user.password_hash)
    .fetch_one(db)
    .await
}

/// Creates the admin account, or makes the existing account of that e-mail an admin with that
/// password.
pub async fn upsert_admin(
    db: impl PgExecutor<'_>,
    email: &Email,
    password_hash: &str,
) -> sqlx::Result<UserRow> {
    sqlx::query_as(&format!(
        "INSERT INTO users (id, name, email, email_key, role, password_hash)
         VALUES ($1, 'Administrator', $2, $3, 'admin', $4)
         ON CONFLICT (email_key) DO UPDATE
            SET role = 'admin', password_hash = EXCLUDED.password_hash, updated_at = now()
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(email.as_str())
    .bind(email.key())
    .bind(password_hash)
    .fetch_one(db)
    .await
}

pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// `key` as made by [`crate::domain::email_key`].
pub async fn find_by_email_key(
    db: impl PgExecutor<'_>,
    key: &str,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email_key = $1"))
        .bind(key)
        .fetch_optional(db)
        .await
}

/// Sets the fields given; `phone: Some(None)` clears the phone.
pub async fn update_profile(
    db: impl PgExecutor<'_>,
    id: Uuid,
    name: Option<&str>,
    phone: Option<Option<&str>>,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "UPDATE users
         SET name = COALESCE($2, name),
             phone = CASE WHEN $3 THEN $4 ELSE phone END,
             updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(name)
    .bind(phone.is_some())
    .bind(phone.flatten())
    .fetch_optional(db)
    .await
}

/// Sets the role; the user after the change, and the role before it.
pub async fn set_role(
    conn: &mut PgConnection,
    id: Uuid,
    role: Role,
) -> sqlx::Result<Option<(UserRow, Role)>> {
    let previous: Option<Role> =
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some(previous) = previous else {
        return Ok(None);
    };
    let row = sqlx::query_as(&format!(
        "UPDATE users SET role = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(role)
    .fetch_one(conn)
    .await?;
    Ok(Some((row, previous)))
}
