//! What every service shows from outside: probes, metrics, request ids, problems, limits.

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use user_service::keys::SigningKey;

use crate::helpers::{TestApp, access, assert_problem, build};

#[sqlx::test(migrations = false)]
async fn health_names_the_service(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let body: Value = app.get("/health", None).await.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "user-service");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[sqlx::test(migrations = false)]
async fn ready_answers_200_with_a_database(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert_eq!(app.get("/ready", None).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn ready_answers_503_when_the_database_is_unreachable() {
    // Nothing listens on port 1; the app is built without touching the database.
    let pool = PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://postgres@127.0.0.1:1/nowhere")
        .unwrap();
    let (_, pem) = SigningKey::generate().unwrap();
    let router = build(&[("JWT_SIGNING_KEY", &pem)], pool.clone()).await;
    let app = TestApp::serve(router, pool).await;
    let response = app.get("/ready", None).await;
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(app.get("/health", None).await.status(), StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn a_request_id_is_echoed_or_generated(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app
        .http
        .get(app.url("/health"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let generated = app.get("/health", None).await;
    let id = generated.headers()["x-request-id"].to_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
}

#[sqlx::test(migrations = false)]
async fn metrics_label_requests_by_route_template(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let pair = app.signed_up("ada@example.com").await;
    let id = pair["user"]["id"].as_str().unwrap();
    app.get(&format!("/v1/users/{id}"), Some(&access(&pair)))
        .await;
    app.get("/no/such/route", None).await;

    let text = app.get("/metrics", None).await.text().await.unwrap();
    assert!(text.contains(r#"http_requests_total{method="GET",route="/v1/users/{id}",service="user-service",status="200"} 1"#), "{text}");
    assert!(!text.contains(id), "raw paths must not become labels");
    assert!(text.contains(r#"route="unmatched""#));
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains(r#"user_logins_total{result="success"} 1"#));
}

#[sqlx::test(migrations = false)]
async fn unknown_routes_and_methods_get_problems(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert_problem(
        app.get("/v1/nothing-here", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let response = app.http.delete(app.url("/v1/users")).send().await.unwrap();
    assert_problem(response, StatusCode::METHOD_NOT_ALLOWED).await;
}

#[sqlx::test(migrations = false)]
async fn a_body_over_one_mebibyte_is_413(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let big = format!(
        r#"{{"name":"{}","email":"a@example.com","password":"0123456789"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let response = app
        .http
        .post(app.url("/v1/users"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[sqlx::test(migrations = false)]
async fn a_body_without_json_content_type_is_415(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app
        .http
        .post(app.url("/v1/users"))
        .body(r#"{"name":"Ada"}"#)
        .send()
        .await
        .unwrap();
    assert_problem(response, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[sqlx::test(migrations = false)]
async fn the_openapi_document_lists_every_route(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/users",
        "/v1/users/me",
        "/v1/users/{id}",
        "/v1/users/{id}/role",
        "/v1/auth/login",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/v1/auth/service-token",
        "/.well-known/jwks.json",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["UserView"].is_object());
    let faults = service_kit::openapi::audit(&doc);
    assert!(faults.is_empty(), "OpenAPI faults:\n{}", faults.join("\n"));
    // The contract's password rule is in the schema, so a client generated from it knows.
    let password = &doc["components"]["schemas"]["RegisterRequest"]["properties"]["password"];
    assert_eq!(password["minLength"], 10, "{password}");
}
