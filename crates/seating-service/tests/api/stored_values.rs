//! Values read from the database are read into their types or fail loudly: a corrupt row is a
//! 500 (its value in the log, never in the answer), not a hold quietly shown as active or an
//! event as on sale.

use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_problem};

#[sqlx::test(migrations = false)]
async fn a_hold_with_an_unknown_stored_status_answers_500_without_the_value(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(2).await;
    let hold = app.held(event, &seats[..1], None).await;
    // The CHECK constraint would refuse it: only a corrupted database holds such a value.
    sqlx::query("ALTER TABLE holds DROP CONSTRAINT holds_status_check")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE holds SET status = 'PENDING' WHERE id = $1")
        .bind(hold)
        .execute(&app.pool)
        .await
        .unwrap();

    let body = assert_problem(
        app.get(&format!("/v1/holds/{hold}"), Some(&app.service_token))
            .await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert!(!body.to_string().contains("PENDING"), "{body}");
    // What the kit logs with the 500: the column and the value.
    let err = seating_service::db::holds::find(&app.pool, hold)
        .await
        .unwrap_err();
    assert!(matches!(err, sqlx::Error::ColumnDecode { .. }), "{err}");
    assert!(err.to_string().contains("`PENDING`"), "{err}");
}

#[sqlx::test(migrations = false)]
async fn an_event_with_an_unknown_stored_status_answers_500_and_holds_nothing(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, seats) = app.event_with_seats(2).await;
    sqlx::query("ALTER TABLE events DROP CONSTRAINT events_status_check")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE events SET status = 'PAUSED' WHERE id = $1")
        .bind(event)
        .execute(&app.pool)
        .await
        .unwrap();

    let body = assert_problem(
        app.get(&format!("/v1/seats?eventId={event}"), None).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert!(!body.to_string().contains("PAUSED"), "{body}");
    assert_problem(
        app.reserve(event, &seats[..1], Uuid::now_v7(), None).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert_eq!(
        app.seat_statuses_in_db(event).await,
        ["AVAILABLE", "AVAILABLE"]
    );
}

#[sqlx::test(migrations = false)]
async fn an_event_with_an_unknown_stored_currency_answers_500(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let (event, _) = app.event_with_seats(1).await;
    sqlx::query("UPDATE events SET currency = 'EURO' WHERE id = $1")
        .bind(event)
        .execute(&app.pool)
        .await
        .unwrap();
    let body = assert_problem(
        app.get(&format!("/v1/events/{event}/seatmap"), None).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert!(!body.to_string().contains("EURO"), "{body}");
}
