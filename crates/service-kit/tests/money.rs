//! Money and currencies as the database stores them.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use service_kit::money::Currency;
use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn a_stored_currency_reads_back_and_an_unknown_code_fails_naming_it(pool: PgPool) {
    let eur = Currency::parse("EUR").unwrap();
    let read: Currency = sqlx::query_scalar("SELECT $1::text")
        .bind(eur)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(read, eur);
    let err = sqlx::query_scalar::<_, Currency>("SELECT 'EURO'::text")
        .fetch_one(&pool)
        .await
        .unwrap_err();
    assert!(matches!(err, sqlx::Error::ColumnDecode { .. }), "{err}");
    assert!(err.to_string().contains("`EURO`"), "{err}");
}
