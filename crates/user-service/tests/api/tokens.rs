//! The tokens user-service issues, and the kit's verification of them as every other service
//! does it (JWKS over HTTP, algorithm pinned, `exp`/`iss`/`aud` checked).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use service_kit::auth::service_token::ServiceTokenSource;
use service_kit::auth::{AUDIENCE, Claims, ISSUER, Role, TokenVerifier};
use service_kit::client::ServiceClient;
use sqlx::PgPool;
use user_service::keys::SigningKey;

use crate::helpers::{TestApp, access, assert_problem};

/// The claims of a token, read without verifying (for assertions only).
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn header_of(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

fn claims(sub: &str, exp_offset: i64) -> Claims {
    let now = Utc::now().timestamp();
    Claims {
        sub: sub.to_owned(),
        email: Some("forged@example.com".into()),
        role: Role::Admin,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now,
        exp: now + exp_offset,
        jti: "test".into(),
        scope: String::new(),
    }
}

/// An app whose signing key the test holds, so it can forge tokens that differ in one way.
async fn app_with_known_key(pool: PgPool) -> (TestApp, SigningKey, String) {
    let (key, pem) = SigningKey::generate().unwrap();
    let app = TestApp::spawn_with(pool, &[("JWT_SIGNING_KEY", &pem)]).await;
    (app, key, pem)
}

#[sqlx::test(migrations = false)]
async fn jwks_publishes_the_key_that_signs_tokens(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (
            key["kty"].as_str(),
            key["crv"].as_str(),
            key["alg"].as_str()
        ),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    assert!(key.get("d").is_none(), "the private part never leaves");

    let pair = app.signed_up("ada@example.com").await;
    let token = access(&pair);
    assert_eq!(header_of(&token)["alg"], "EdDSA");
    assert_eq!(header_of(&token)["kid"], key["kid"]);
    let claims = claims_of(&token);
    assert_eq!(claims["sub"], pair["user"]["id"]);
    assert_eq!(claims["role"], "customer");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
}

#[sqlx::test(migrations = false)]
async fn the_generated_key_is_kept_across_restarts(pool: PgPool) {
    let first = TestApp::spawn(pool.clone()).await;
    let before: Value = first
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    let second = TestApp::spawn(pool).await;
    let after: Value = second
        .get("/.well-known/jwks.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before, after);
}

#[sqlx::test(migrations = false)]
async fn the_configured_key_signs_and_its_tokens_are_accepted(pool: PgPool) {
    let (app, key, _) = app_with_known_key(pool).await;
    let user = app.registered("ada@example.com").await;
    let token = key.sign(&claims(user["id"].as_str().unwrap(), 60)).unwrap();
    let response = app.get("/v1/users/me", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn an_expired_token_is_refused(pool: PgPool) {
    let (app, key, _) = app_with_known_key(pool).await;
    let user = app.registered("ada@example.com").await;
    let token = key
        .sign(&claims(user["id"].as_str().unwrap(), -120))
        .unwrap();
    assert_problem(
        app.get("/v1/users/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn a_token_for_another_audience_or_issuer_is_refused(pool: PgPool) {
    let (app, key, _) = app_with_known_key(pool).await;
    let user = app.registered("ada@example.com").await;
    let id = user["id"].as_str().unwrap();
    let mut other_audience = claims(id, 60);
    other_audience.aud = "another-system".into();
    let mut other_issuer = claims(id, 60);
    other_issuer.iss = "someone-else".into();
    for forged in [other_audience, other_issuer] {
        let token = key.sign(&forged).unwrap();
        assert_problem(
            app.get("/v1/users/me", Some(&token)).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
    }
}

#[sqlx::test(migrations = false)]
async fn a_token_signed_by_another_key_is_refused(pool: PgPool) {
    let (app, key, _) = app_with_known_key(pool).await;
    let user = app.registered("ada@example.com").await;
    let id = user["id"].as_str().unwrap();
    let (other, other_pem) = SigningKey::generate().unwrap();

    // Under its own (unknown) kid.
    let token = other.sign(&claims(id, 60)).unwrap();
    assert_problem(
        app.get("/v1/users/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Under the real kid.
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(key.kid().to_owned());
    let encoding = EncodingKey::from_ed_pem(other_pem.as_bytes()).unwrap();
    let token = jsonwebtoken::encode(&header, &claims(id, 60), &encoding).unwrap();
    assert_problem(
        app.get("/v1/users/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn alg_none_is_refused(pool: PgPool) {
    let (app, key, _) = app_with_known_key(pool).await;
    let user = app.registered("ada@example.com").await;
    let header = json!({"alg": "none", "typ": "JWT", "kid": key.kid()});
    let body = serde_json::to_value(claims(user["id"].as_str().unwrap(), 60)).unwrap();
    let token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(body.to_string())
    );
    assert_problem(
        app.get("/v1/users/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn hs256_is_refused_even_with_the_public_key_as_secret(pool: PgPool) {
    let (app, key, _) = app_with_known_key(pool).await;
    let user = app.registered("ada@example.com").await;
    let public_x = key.jwk()["x"].as_str().unwrap().to_owned();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid().to_owned());
    let token = jsonwebtoken::encode(
        &header,
        &claims(user["id"].as_str().unwrap(), 60),
        &EncodingKey::from_secret(public_x.as_bytes()),
    )
    .unwrap();
    assert_problem(
        app.get("/v1/users/me", Some(&token)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

#[sqlx::test(migrations = false)]
async fn a_malformed_authorization_header_is_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer not.a.jwt"] {
        let response = app
            .http
            .get(app.url("/v1/users/me"))
            .header("authorization", value)
            .send()
            .await
            .unwrap();
        assert_problem(response, StatusCode::UNAUTHORIZED).await;
    }
}

#[sqlx::test(migrations = false)]
async fn other_services_verify_tokens_through_the_jwks(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let verifier =
        TokenVerifier::with_jwks(app.url("/.well-known/jwks.json"), reqwest::Client::new());
    let pair = app.signed_up("ada@example.com").await;

    let claims = verifier.verify(&access(&pair)).await.unwrap();
    assert_eq!(claims.role, Role::Customer);
    assert_eq!(claims.email.as_deref(), Some("ada@example.com"));

    let (stranger, _) = SigningKey::generate().unwrap();
    let forged = stranger.sign(&self::claims("x", 60)).unwrap();
    assert!(verifier.verify(&forged).await.is_err());
}

#[sqlx::test(migrations = false)]
async fn a_service_client_sends_its_token_and_the_request_id(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let user = app.registered("ada@example.com").await;
    let http = reqwest::Client::new();
    let tokens = ServiceTokenSource::new(
        http.clone(),
        &app.address,
        "order-service".into(),
        "dev-secret-order-service".to_owned().into(),
    );
    let client =
        ServiceClient::new("user-service", &app.address, http).with_service_token(Arc::new(tokens));
    let path = format!("/v1/users/{}", user["id"].as_str().unwrap());

    let response = service_kit::telemetry::with_request_id(
        "req-from-upstream".into(),
        client.get(&path).send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "req-from-upstream");
    let fetched: Value = client.get(&path).send_json().await.unwrap();
    assert_eq!(fetched["email"], "ada@example.com");
}

#[tokio::test]
async fn tokens_cannot_be_verified_while_the_jwks_is_unreachable() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!(
            "http://{}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        )
    };
    let verifier = TokenVerifier::with_jwks(closed, reqwest::Client::new());
    let (key, _) = SigningKey::generate().unwrap();
    let token = key.sign(&claims("x", 60)).unwrap();
    // Both the fetching request and the ones right after it say "unavailable" (503), not
    // "forged" (401).
    for _ in 0..2 {
        let err = verifier.verify(&token).await.unwrap_err();
        assert!(
            matches!(err, service_kit::auth::AuthError::KeysUnavailable(_)),
            "{err}"
        );
    }
}
