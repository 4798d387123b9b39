use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, access, assert_problem};

#[sqlx::test(migrations = false)]
async fn login_returns_a_bearer_pair_and_the_user(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.registered("ada@example.com").await;
    let pair = app.logged_in("ADA@example.com", PASSWORD).await;
    assert_eq!(pair["tokenType"], "Bearer");
    assert_eq!(pair["expiresIn"], 900);
    assert_eq!(pair["user"]["email"], "ada@example.com");
    assert_eq!(access(&pair).split('.').count(), 3);
    assert!(pair["refreshToken"].as_str().unwrap().len() >= 43);
}

#[sqlx::test(migrations = false)]
async fn wrong_password_and_unknown_email_get_the_same_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.registered("ada@example.com").await;
    let wrong = assert_problem(
        app.login("ada@example.com", "not the password").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    let unknown = assert_problem(
        app.login("nobody@example.com", "not the password").await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(wrong, unknown);
}

#[sqlx::test(migrations = false)]
async fn repeated_failures_for_one_email_are_throttled_with_retry_after(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.registered("ada@example.com").await;
    for _ in 0..5 {
        let response = app.login("ada@example.com", "guess guess guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password waits now: the attacker must not learn it was right.
    let response = app.login("Ada@Example.com", PASSWORD).await;
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
}

#[sqlx::test(migrations = false)]
async fn repeated_failures_from_one_address_are_throttled(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("LOGIN_MAX_FAILURES_PER_ADDRESS", "3")]).await;
    app.registered("ada@example.com").await;
    for i in 0..3 {
        let response = app
            .login(&format!("user{i}@example.com"), "guess guess guess")
            .await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let response = app.login("ada@example.com", PASSWORD).await;
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS).await;
}

#[sqlx::test(migrations = false)]
async fn a_successful_login_forgives_earlier_failures_of_the_email(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.registered("ada@example.com").await;
    for _ in 0..4 {
        app.login("ada@example.com", "guess guess guess").await;
    }
    app.logged_in("ada@example.com", PASSWORD).await;
    for _ in 0..4 {
        let response = app.login("ada@example.com", "guess guess guess").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[sqlx::test(migrations = false)]
async fn refresh_rotates_and_the_old_token_stops_working(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = app.signed_up("ada@example.com").await;
    let old = first["refreshToken"].as_str().unwrap();

    let response = app.refresh(old).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await.unwrap();
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    assert_eq!(second["user"]["email"], "ada@example.com");
    let me = app.get("/v1/users/me", Some(&access(&second))).await;
    assert_eq!(me.status(), StatusCode::OK);

    let third = app.refresh(second["refreshToken"].as_str().unwrap()).await;
    assert_eq!(third.status(), StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn reusing_a_rotated_token_revokes_the_whole_family(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let first = app.signed_up("ada@example.com").await;
    let stolen = first["refreshToken"].as_str().unwrap();
    let second: Value = app.refresh(stolen).await.json().await.unwrap();

    // The thief replays the rotated token...
    let replay = app.refresh(stolen).await;
    assert_problem(replay, StatusCode::UNAUTHORIZED).await;
    // ...and the legitimate holder's newer token dies with it.
    let legit = app.refresh(second["refreshToken"].as_str().unwrap()).await;
    assert_problem(legit, StatusCode::UNAUTHORIZED).await;
    // Another session of the same user is untouched.
    let other = app.logged_in("ada@example.com", PASSWORD).await;
    let response = app.refresh(other["refreshToken"].as_str().unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn concurrent_refreshes_with_one_token_succeed_at_most_once(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let pair = app.signed_up("ada@example.com").await;
    let token = pair["refreshToken"].as_str().unwrap();
    let answers = futures::future::join_all((0..10).map(|_| app.refresh(token))).await;
    let ok = answers
        .iter()
        .filter(|r| r.status() == StatusCode::OK)
        .count();
    assert!(ok <= 1, "{ok} refreshes succeeded with one token");
    assert!(
        answers
            .iter()
            .all(|r| matches!(r.status(), StatusCode::OK | StatusCode::UNAUTHORIZED))
    );
}

#[sqlx::test(migrations = false)]
async fn an_unknown_refresh_token_is_401(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    assert_problem(app.refresh("made-up").await, StatusCode::UNAUTHORIZED).await;
}

#[sqlx::test(migrations = false)]
async fn logout_ends_the_session(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let pair = app.signed_up("ada@example.com").await;
    let body = json!({"refreshToken": pair["refreshToken"]});

    let anonymous = app.post("/v1/auth/logout", &body, None).await;
    assert_problem(anonymous, StatusCode::UNAUTHORIZED).await;

    let response = app
        .post("/v1/auth/logout", &body, Some(&access(&pair)))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let again = app
        .post("/v1/auth/logout", &body, Some(&access(&pair)))
        .await;
    assert_eq!(
        again.status(),
        StatusCode::NO_CONTENT,
        "logout is idempotent"
    );

    let refresh = app.refresh(pair["refreshToken"].as_str().unwrap()).await;
    assert_problem(refresh, StatusCode::UNAUTHORIZED).await;
}

#[sqlx::test(migrations = false)]
async fn someone_elses_refresh_token_is_not_logged_out(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signed_up("alice@example.com").await;
    let bob = app.signed_up("bob@example.com").await;
    let body = json!({"refreshToken": bob["refreshToken"]});
    let response = app
        .post("/v1/auth/logout", &body, Some(&access(&alice)))
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let refresh = app.refresh(bob["refreshToken"].as_str().unwrap()).await;
    assert_eq!(refresh.status(), StatusCode::OK);
}

#[sqlx::test(migrations = false)]
async fn a_configured_service_gets_a_service_token(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app
        .service_token("seating-service", "dev-secret-seating-service")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["expiresIn"], 900);
    let claims = crate::tokens::claims_of(token["accessToken"].as_str().unwrap());
    assert_eq!(claims["role"], "service");
    assert_eq!(claims["sub"], "seating-service");
    // seating calls no other service: its token carries no scope.
    assert!(claims.get("scope").is_none(), "{claims}");
    let order: Value = app
        .service_token("order-service", "dev-secret-order-service")
        .await
        .json()
        .await
        .unwrap();
    let claims = crate::tokens::claims_of(order["accessToken"].as_str().unwrap());
    assert_eq!(
        claims["scope"],
        "users:read catalog:read seating:holds seating:sell payments:charge payments:refund payments:read"
    );

    let wrong = app
        .service_token("seating-service", "dev-secret-order-service")
        .await;
    assert_problem(wrong, StatusCode::UNAUTHORIZED).await;
    let unknown = app
        .service_token("mallory", "dev-secret-seating-service")
        .await;
    assert_problem(unknown, StatusCode::UNAUTHORIZED).await;
}

#[sqlx::test(migrations = false)]
async fn service_clients_come_from_configuration(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("SERVICE_CLIENTS", "reporting:s3cr3t-s3cr3t")]).await;
    let ok = app.service_token("reporting", "s3cr3t-s3cr3t").await;
    assert_eq!(ok.status(), StatusCode::OK);
    // A client that is not one of the fleet's services may do nothing a scope guards.
    let token: Value = ok.json().await.unwrap();
    let claims = crate::tokens::claims_of(token["accessToken"].as_str().unwrap());
    assert!(claims.get("scope").is_none(), "{claims}");
    let default_gone = app
        .service_token("seating-service", "dev-secret-seating-service")
        .await;
    assert_problem(default_gone, StatusCode::UNAUTHORIZED).await;
}

#[sqlx::test(migrations = false)]
async fn a_burst_of_guesses_cannot_outrun_the_limit(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.registered("ada@example.com").await;
    let guesses = (0..20).map(|_| app.login("ada@example.com", "guess guess guess"));
    let statuses: Vec<StatusCode> = futures::future::join_all(guesses)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    let tried = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(tried <= 5, "{tried} guesses were tried; the limit is 5");
    assert_eq!(tried + throttled, 20);
}
