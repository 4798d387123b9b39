//! The database: a pool, creation of the service's database when missing, and migrations.
//!
//! Each service owns one database and embeds its migrations. The kit embeds its own (the tables
//! of its shared mechanisms: idempotency keys, and later the outbox and inbox) and applies them
//! first. Both sets share sqlx's bookkeeping table, so each is run with `ignore_missing`: the
//! kit's versions start with 1000, a service's with its date, and neither mistakes the other's
//! for a deleted migration.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::migrate::{MigrateDatabase, MigrateError, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

#[doc(hidden)]
pub use sqlx as __sqlx;

/// Stores a service's own value type (a status, a type, a role) as `TEXT`, read strictly.
///
/// `text_column!(EventStatus)`, in the service's `db` module (its domain stays free of sqlx),
/// makes `EventStatus` a column type written with its `Display` and read with its
/// `TryFrom<String>`. A stored value that does not convert fails the row with sqlx's
/// `ColumnDecode`, whose message names the column and carries the conversion's error, which
/// should name the value: it becomes the kit's 500 and the value reaches the error log, never the
/// answer. Nothing is ever defaulted.
///
/// (`#[sqlx(try_from = "String")]` on a row field converts the same way, but sqlx 0.8 reports a
/// failed conversion as "unprintable error", losing the value.)
#[macro_export]
macro_rules! text_column {
    ($ty:ty) => {
        impl $crate::db::__sqlx::Type<$crate::db::__sqlx::Postgres> for $ty {
            fn type_info() -> $crate::db::__sqlx::postgres::PgTypeInfo {
                <::std::string::String as $crate::db::__sqlx::Type<
                    $crate::db::__sqlx::Postgres,
                >>::type_info()
            }

            fn compatible(ty: &$crate::db::__sqlx::postgres::PgTypeInfo) -> bool {
                <::std::string::String as $crate::db::__sqlx::Type<
                    $crate::db::__sqlx::Postgres,
                >>::compatible(ty)
            }
        }

        impl $crate::db::__sqlx::postgres::PgHasArrayType for $ty {
            fn array_type_info() -> $crate::db::__sqlx::postgres::PgTypeInfo {
                <::std::string::String as $crate::db::__sqlx::postgres::PgHasArrayType>::array_type_info()
            }
        }

        impl $crate::db::__sqlx::Encode<'_, $crate::db::__sqlx::Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut $crate::db::__sqlx::postgres::PgArgumentBuffer,
            ) -> ::std::result::Result<
                $crate::db::__sqlx::encode::IsNull,
                $crate::db::__sqlx::error::BoxDynError,
            > {
                <::std::string::String as $crate::db::__sqlx::Encode<
                    $crate::db::__sqlx::Postgres,
                >>::encode_by_ref(&::std::string::ToString::to_string(self), buf)
            }
        }

        impl $crate::db::__sqlx::Decode<'_, $crate::db::__sqlx::Postgres> for $ty {
            fn decode(
                value: $crate::db::__sqlx::postgres::PgValueRef<'_>,
            ) -> ::std::result::Result<Self, $crate::db::__sqlx::error::BoxDynError> {
                let raw = <::std::string::String as $crate::db::__sqlx::Decode<
                    $crate::db::__sqlx::Postgres,
                >>::decode(value)?;
                <$ty as ::std::convert::TryFrom<::std::string::String>>::try_from(raw)
                    .map_err(|e| ::std::string::ToString::to_string(&e).into())
            }
        }
    };
}

/// The kit's own tables.
pub static KIT_MIGRATIONS: Migrator = sqlx::migrate!("./migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL is not a valid Postgres URL: {0}")]
    BadUrl(#[source] sqlx::Error),
    #[error("cannot create the database: {0}")]
    Create(#[source] sqlx::Error),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("migrations failed: {0}")]
    Migrate(#[from] MigrateError),
}

/// Creates the database named in `url` when it does not exist, connects a pool, and applies the
/// kit's and the service's migrations.
pub async fn connect_and_migrate(
    url: &SecretString,
    max_connections: u32,
    service_migrations: &Migrator,
) -> Result<PgPool, DbError> {
    let url = url.expose_secret();
    let options: PgConnectOptions = url.parse().map_err(DbError::BadUrl)?;
    create_database_if_missing(url).await?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(DbError::Connect)?;
    migrate(&pool, service_migrations).await?;
    Ok(pool)
}

/// Applies the kit's migrations, then the service's.
pub async fn migrate(pool: &PgPool, service_migrations: &Migrator) -> Result<(), MigrateError> {
    tolerant(&KIT_MIGRATIONS).run(pool).await?;
    tolerant(service_migrations).run(pool).await
}

fn tolerant(migrator: &Migrator) -> Migrator {
    Migrator {
        migrations: migrator.migrations.clone(),
        ignore_missing: true,
        locking: migrator.locking,
        no_tx: migrator.no_tx,
    }
}

async fn create_database_if_missing(url: &str) -> Result<(), DbError> {
    if Postgres::database_exists(url)
        .await
        .map_err(DbError::Connect)?
    {
        return Ok(());
    }
    tracing::info!("creating the service's database");
    match Postgres::create_database(url).await {
        Ok(()) => Ok(()),
        // Two replicas starting at once: the other one won.
        Err(_) if Postgres::database_exists(url).await.unwrap_or(false) => Ok(()),
        Err(e) => Err(DbError::Create(e)),
    }
}
