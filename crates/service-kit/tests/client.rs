//! The inter-service client against a real HTTP server on an ephemeral port that fails on
//! demand: retries only where repeating is harmless, and the request id travels.

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::any;
use service_kit::client::{RetryPolicy, ServiceClient};

#[derive(Clone, Default)]
struct Flaky {
    hits: Arc<AtomicUsize>,
    /// The first this-many requests fail with 503.
    failures: usize,
    last_request_id: Arc<std::sync::Mutex<Option<String>>>,
}

async fn flaky(State(flaky): State<Flaky>, headers: HeaderMap) -> StatusCode {
    let hit = flaky.hits.fetch_add(1, Ordering::SeqCst);
    *flaky.last_request_id.lock().unwrap() = headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if hit < flaky.failures {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn server(failures: usize) -> (String, Flaky) {
    let state = Flaky {
        failures,
        ..Flaky::default()
    };
    let app = Router::new()
        .route("/thing", any(flaky))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, state)
}

fn client(address: &str) -> ServiceClient {
    ServiceClient::new("flaky", address, reqwest::Client::new()).with_retry(RetryPolicy {
        max_attempts: 3,
        first_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
    })
}

#[tokio::test]
async fn an_idempotent_call_is_retried_until_it_succeeds() {
    let (address, state) = server(2).await;
    let response = client(&address).get("/thing").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(state.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn retries_stop_after_the_last_attempt() {
    let (address, state) = server(10).await;
    let response = client(&address).put("/thing").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(state.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_post_without_idempotency_key_is_not_retried() {
    let (address, state) = server(1).await;
    let response = client(&address).post("/thing").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(state.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_post_with_idempotency_key_is_retried() {
    let (address, state) = server(1).await;
    let response = client(&address)
        .post("/thing")
        .idempotency_key("order-1-charge")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(state.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_current_request_id_is_forwarded_and_one_is_made_when_absent() {
    let (address, state) = server(0).await;
    service_kit::telemetry::with_request_id(
        "upstream-42".into(),
        client(&address).get("/thing").send(),
    )
    .await
    .unwrap();
    assert_eq!(
        state.last_request_id.lock().unwrap().as_deref(),
        Some("upstream-42")
    );
    client(&address).get("/thing").send().await.unwrap();
    let made = state.last_request_id.lock().unwrap().clone().unwrap();
    assert!(uuid::Uuid::parse_str(&made).is_ok());
}

#[tokio::test]
async fn an_unreachable_service_is_an_error_after_retries() {
    // Bind and drop: the port is (very likely) closed now.
    let address = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let err = client(&address).get("/thing").send().await.unwrap_err();
    assert!(
        err.to_string().contains("flaky could not be reached"),
        "{err}"
    );
}
