//! The idempotency store against a real Postgres, including many clients racing on one key.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use service_kit::Problem;
use service_kit::idempotency::{
    Begin, IdempotencyError, IdempotencyKey, IdempotencyStore, StoredResponse, fingerprint,
};
use sqlx::PgPool;
use sqlx::migrate::Migrator;

async fn store(pool: PgPool) -> IdempotencyStore {
    service_kit::db::migrate(&pool, &Migrator::DEFAULT)
        .await
        .unwrap();
    IdempotencyStore::new(pool, Duration::from_secs(60))
}

fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse(k).unwrap()
}

fn created(body: &str) -> StoredResponse {
    StoredResponse {
        status: StatusCode::CREATED,
        body: body.as_bytes().to_vec(),
        content_type: Some("application/json".into()),
    }
}

async fn body_of(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[sqlx::test(migrations = false)]
async fn the_first_request_proceeds_and_a_repeat_replays_its_answer(pool: PgPool) {
    let store = store(pool).await;
    let print = fingerprint("charge", &json!({"amount": "10.00"}));
    assert!(matches!(
        store.begin("alice", &key("k1"), &print).await.unwrap(),
        Begin::Proceed
    ));
    store
        .complete("alice", &key("k1"), &created(r#"{"id":1}"#))
        .await
        .unwrap();

    let Begin::Replay(stored) = store.begin("alice", &key("k1"), &print).await.unwrap() else {
        panic!("expected a replay");
    };
    assert_eq!(stored.status, StatusCode::CREATED);
    let response = stored.into_response();
    assert_eq!(response.headers()["idempotent-replayed"], "true");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(body_of(response).await, r#"{"id":1}"#);
}

#[sqlx::test(migrations = false)]
async fn the_same_key_with_another_body_is_refused(pool: PgPool) {
    let store = store(pool).await;
    let first = fingerprint("charge", &json!({"amount": "10.00"}));
    let second = fingerprint("charge", &json!({"amount": "99.00"}));
    store.begin("alice", &key("k1"), &first).await.unwrap();
    let err = store.begin("alice", &key("k1"), &second).await.unwrap_err();
    assert!(matches!(err, IdempotencyError::Mismatch));
}

#[sqlx::test(migrations = false)]
async fn keys_are_scoped_to_the_caller(pool: PgPool) {
    let store = store(pool).await;
    let print = fingerprint("charge", &json!({}));
    store.begin("alice", &key("shared"), &print).await.unwrap();
    let bob = store.begin("bob", &key("shared"), &print).await.unwrap();
    assert!(matches!(bob, Begin::Proceed));
}

#[sqlx::test(migrations = false)]
async fn a_request_in_flight_makes_a_repeat_409(pool: PgPool) {
    let store = store(pool).await;
    let print = fingerprint("charge", &json!({}));
    store.begin("alice", &key("k1"), &print).await.unwrap();
    let err = store.begin("alice", &key("k1"), &print).await.unwrap_err();
    assert!(matches!(err, IdempotencyError::InFlight));
    let problem = service_kit::Problem::from(err);
    assert_eq!(problem.status, StatusCode::CONFLICT);
}

#[sqlx::test(migrations = false)]
async fn a_released_key_runs_again(pool: PgPool) {
    let store = store(pool).await;
    let print = fingerprint("charge", &json!({}));
    store.begin("alice", &key("k1"), &print).await.unwrap();
    store.release("alice", &key("k1")).await.unwrap();
    assert!(matches!(
        store.begin("alice", &key("k1"), &print).await.unwrap(),
        Begin::Proceed
    ));
}

#[sqlx::test(migrations = false)]
async fn an_abandoned_claim_is_taken_over_after_the_timeout(pool: PgPool) {
    service_kit::db::migrate(&pool, &Migrator::DEFAULT)
        .await
        .unwrap();
    let store = IdempotencyStore::new(pool.clone(), Duration::from_secs(60));
    let print = fingerprint("charge", &json!({}));
    store.begin("alice", &key("k1"), &print).await.unwrap();
    sqlx::query("UPDATE idempotency_keys SET locked_at = now() - interval '2 minutes'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        store.begin("alice", &key("k1"), &print).await.unwrap(),
        Begin::Proceed
    ));
    // ...and only once.
    assert!(store.begin("alice", &key("k1"), &print).await.is_err());
}

#[sqlx::test(migrations = false)]
async fn racing_requests_with_one_key_run_the_handler_once(pool: PgPool) {
    let store = Arc::new(store(pool).await);
    let runs = Arc::new(AtomicUsize::new(0));
    let print = fingerprint("reserve", &json!({"seat": "A1"}));
    let tasks = (0..30).map(|_| {
        let (store, runs, print) = (store.clone(), runs.clone(), print.clone());
        tokio::spawn(async move {
            store
                .run("alice", &key("race"), &print, async {
                    runs.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    (StatusCode::CREATED, r#"{"hold":"h1"}"#).into_response()
                })
                .await
        })
    });
    let outcomes = futures::future::join_all(tasks).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the handler ran more than once"
    );
    for outcome in outcomes {
        match outcome.unwrap() {
            Ok(response) => {
                assert_eq!(response.status(), StatusCode::CREATED);
                assert_eq!(body_of(response).await, r#"{"hold":"h1"}"#);
            }
            Err(IdempotencyError::InFlight) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    // After the race, a retry replays.
    let replay = store
        .run("alice", &key("race"), &print, async {
            StatusCode::IM_A_TEAPOT.into_response()
        })
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
}

#[sqlx::test(migrations = false)]
async fn a_server_error_is_not_stored_so_a_retry_runs_again(pool: PgPool) {
    let store = store(pool).await;
    let print = fingerprint("charge", &json!({}));
    let failed = store
        .run("alice", &key("k1"), &print, async {
            StatusCode::BAD_GATEWAY.into_response()
        })
        .await
        .unwrap();
    assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
    let retried = store
        .run("alice", &key("k1"), &print, async {
            StatusCode::CREATED.into_response()
        })
        .await
        .unwrap();
    assert_eq!(retried.status(), StatusCode::CREATED);
    assert!(retried.headers().get("idempotent-replayed").is_none());
}

#[sqlx::test(migrations = false)]
async fn an_answer_that_says_retry_later_is_not_stored(pool: PgPool) {
    // order-service's 409 `order-busy` (another request is finishing the order) and every 429
    // carry Retry-After: the retry they ask for must run, not replay them.
    let store = store(pool).await;
    let print = fingerprint("pay", &json!({}));
    let busy = store
        .run("alice", &key("k1"), &print, async {
            Problem::conflict("order-busy", "busy")
                .with_retry_after(1)
                .into_response()
        })
        .await
        .unwrap();
    assert_eq!(busy.status(), StatusCode::CONFLICT);
    let retried = store
        .run("alice", &key("k1"), &print, async {
            StatusCode::OK.into_response()
        })
        .await
        .unwrap();
    assert_eq!(retried.status(), StatusCode::OK);
    assert!(retried.headers().get("idempotent-replayed").is_none());
}

#[sqlx::test(migrations = false)]
async fn a_client_error_is_stored_and_replayed(pool: PgPool) {
    let store = store(pool).await;
    let print = fingerprint("charge", &json!({}));
    let declined = store
        .run("alice", &key("k1"), &print, async {
            StatusCode::PAYMENT_REQUIRED.into_response()
        })
        .await
        .unwrap();
    assert_eq!(declined.status(), StatusCode::PAYMENT_REQUIRED);
    let replay = store
        .run("alice", &key("k1"), &print, async {
            StatusCode::CREATED.into_response()
        })
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::PAYMENT_REQUIRED);
}

#[sqlx::test(migrations = false)]
async fn old_keys_are_purged(pool: PgPool) {
    service_kit::db::migrate(&pool, &Migrator::DEFAULT)
        .await
        .unwrap();
    let store = IdempotencyStore::new(pool.clone(), Duration::from_secs(60));
    let print = fingerprint("charge", &json!({}));
    store.begin("alice", &key("old"), &print).await.unwrap();
    store.begin("alice", &key("new"), &print).await.unwrap();
    sqlx::query(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key = 'old'",
    )
    .execute(&pool)
    .await
    .unwrap();
    let purged = store
        .purge_older_than(Duration::from_secs(24 * 3600))
        .await
        .unwrap();
    assert_eq!(purged, 1);
}

#[sqlx::test(migrations = false)]
async fn a_stored_status_that_is_no_http_status_fails_loudly_instead_of_replaying_a_500(
    pool: PgPool,
) {
    let store = store(pool.clone()).await;
    let print = fingerprint("charge", &json!({}));
    store.begin("alice", &key("k1"), &print).await.unwrap();
    store
        .complete("alice", &key("k1"), &created("{}"))
        .await
        .unwrap();
    sqlx::query("UPDATE idempotency_keys SET response_status = 42")
        .execute(&pool)
        .await
        .unwrap();
    let err = store.begin("alice", &key("k1"), &print).await.unwrap_err();
    assert!(matches!(err, IdempotencyError::Db(_)));
    assert!(err.to_string().contains("42"), "{err}");
}
