//! Values as the database stores them: currencies, and a service's own types (`text_column!`).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::fmt;

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Light {
    Red,
    Green,
}

impl fmt::Display for Light {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Red => "RED",
            Self::Green => "GREEN",
        })
    }
}

impl TryFrom<String> for Light {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        match raw.as_str() {
            "RED" => Ok(Self::Red),
            "GREEN" => Ok(Self::Green),
            _ => Err(format!("unknown light `{raw}`")),
        }
    }
}

service_kit::text_column!(Light);

#[derive(Debug, sqlx::FromRow)]
struct Crossing {
    light: Light,
}

#[sqlx::test(migrations = false)]
async fn a_text_column_reads_its_type_and_an_unknown_value_fails_the_row_naming_it(pool: PgPool) {
    let read: Light = sqlx::query_scalar("SELECT $1::text")
        .bind(Light::Green)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(read, Light::Green);
    let row: Crossing = sqlx::query_as("SELECT 'RED' AS light")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row.light, Light::Red);
    let err = sqlx::query_as::<_, Crossing>("SELECT 'BLUE' AS light")
        .fetch_one(&pool)
        .await
        .unwrap_err();
    assert!(matches!(err, sqlx::Error::ColumnDecode { .. }), "{err}");
    let logged = err.to_string();
    assert!(
        logged.contains("light") && logged.contains("unknown light `BLUE`"),
        "{logged}"
    );
}
