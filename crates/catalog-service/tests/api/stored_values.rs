//! Values read from the database are read into their types or fail loudly: a corrupt row is a
//! 500 (its value in the log, never in the answer), not an event quietly shown as something else.

use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::{TestApp, assert_problem};

#[sqlx::test(migrations = false)]
async fn an_event_with_an_unknown_stored_status_answers_500_without_the_value(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app.draft(&organizer, venue, "Jazz", "concert", 3).await;
    // The CHECK constraint would refuse it: only a corrupted database holds such a value.
    sqlx::query("ALTER TABLE events DROP CONSTRAINT events_status_check")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE events SET status = 'SCHEDULED' WHERE id = $1")
        .bind(event)
        .execute(&app.pool)
        .await
        .unwrap();

    let (admin, _) = app.user("admin").await;
    for path in [format!("/v1/events/{event}"), "/v1/events".to_owned()] {
        let body = assert_problem(
            app.get(&path, Some(&admin)).await,
            StatusCode::INTERNAL_SERVER_ERROR,
        )
        .await;
        assert!(!body.to_string().contains("SCHEDULED"), "{body}");
    }
    // What the kit logs with the 500: the column and the value.
    let err = catalog_service::db::events::find(&app.pool, event)
        .await
        .unwrap_err();
    assert!(matches!(err, sqlx::Error::ColumnDecode { .. }), "{err}");
    assert!(err.to_string().contains("`SCHEDULED`"), "{err}");
}

#[sqlx::test(migrations = false)]
async fn an_event_with_an_unknown_stored_currency_answers_500(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (organizer, _) = app.user("organizer").await;
    let venue = app.venue(&organizer, "Lisbon").await;
    let event = app.draft(&organizer, venue, "Jazz", "concert", 3).await;
    sqlx::query("UPDATE events SET currency = 'EURO' WHERE id = $1")
        .bind(event)
        .execute(&app.pool)
        .await
        .unwrap();
    let body = assert_problem(
        app.get(&format!("/v1/events/{event}"), Some(&organizer))
            .await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert!(!body.to_string().contains("EURO"), "{body}");
}
