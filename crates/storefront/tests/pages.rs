//! The storefront served in process on an ephemeral port, beside a real user-service (its tables
//! in the test's own database): sessions, the form token, headers, assets and error pages. The
//! pages that need the whole fleet are proven in a browser (tests/browser.rs).
#![allow(clippy::unwrap_used)] // tests

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, ETAG, IF_NONE_MATCH, SET_COOKIE};
use sqlx::PgPool;
use test_support::{PASSWORD, UserService};

/// A port nothing listens on: the services a test does not need.
const NOWHERE: &str = "http://127.0.0.1:9";

async fn storefront(users: &str) -> String {
    let mut env = test_support::env([
        ("USER_SERVICE_URL", users),
        ("CATALOG_SERVICE_URL", NOWHERE),
        ("SEATING_SERVICE_URL", NOWHERE),
        ("ORDER_SERVICE_URL", NOWHERE),
    ]);
    let config = storefront::Config::from_env(&mut env).unwrap();
    let closing = tokio_util::sync::CancellationToken::new();
    test_support::serve(storefront::app(&config, closing)).await
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The form token of the page at `url`, as the browser would send it back.
async fn csrf(client: &reqwest::Client, url: &str) -> String {
    let html = client.get(url).send().await.unwrap().text().await.unwrap();
    let start = html.find(r#"name="csrf" value=""#).unwrap() + r#"name="csrf" value=""#.len();
    html[start..].split('"').next().unwrap().to_owned()
}

#[sqlx::test]
async fn logging_in_keeps_the_tokens_in_an_encrypted_cookie(pool: PgPool) {
    let users = UserService::start(&pool).await;
    let account = users.account("customer").await;
    let shop = storefront(&users.url).await;
    let client = browser();

    let token = csrf(&client, &format!("{shop}/login")).await;
    let response = client
        .post(format!("{shop}/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("email", &account.email),
            ("password", PASSWORD),
            ("next", "/register"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/register");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    // The JWT (base64url of `{"`, eyJ…) is nowhere in what the browser holds.
    assert!(!cookie.contains("eyJ"), "{cookie}");
    assert!(!cookie.contains(&account.email), "{cookie}");

    // Signed in: the page greets them and offers to log out; the form token changed.
    let page = client
        .get(format!("{shop}/register"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Log out"), "{page}");
    assert_ne!(csrf(&client, &format!("{shop}/register")).await, token);

    // A wrong password is said on the page, not as JSON.
    let other = browser();
    let token = csrf(&other, &format!("{shop}/login")).await;
    let response = other
        .post(format!("{shop}/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("email", &account.email),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Wrong e-mail or password.")
    );
}

#[sqlx::test]
async fn a_form_without_the_sessions_token_is_refused_before_anything_happens(pool: PgPool) {
    let users = UserService::start(&pool).await;
    let account = users.account("customer").await;
    let shop = storefront(&users.url).await;
    let client = browser();
    let token = csrf(&client, &format!("{shop}/login")).await;

    for form in [
        vec![("email", account.email.as_str()), ("password", PASSWORD)],
        vec![
            ("csrf", "forged"),
            ("email", account.email.as_str()),
            ("password", PASSWORD),
        ],
        vec![
            ("csrf", &token[..token.len() - 1]),
            ("email", account.email.as_str()),
            ("password", PASSWORD),
        ],
    ] {
        let response = client
            .post(format!("{shop}/login"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{form:?}");
        assert!(
            response.headers().get(SET_COOKIE).is_none(),
            "refused, yet signed in: {form:?}"
        );
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("This form has expired")
        );
    }
    // Another browser's token is worth nothing here (no session, or another one).
    let response = browser()
        .post(format!("{shop}/login"))
        .form(&[
            ("csrf", token.as_str()),
            ("email", &account.email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn pages_carry_a_strict_policy_and_assets_revalidate(pool: PgPool) {
    let users = UserService::start(&pool).await;
    let shop = storefront(&users.url).await;
    let client = browser();

    let page = client.get(format!("{shop}/login")).send().await.unwrap();
    let policy = page.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("<script>"),
        "no inline script: the policy would block it"
    );
    assert!(!html.contains("style="), "no inline style either");

    let css = client
        .get(format!("{shop}/static/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    let etag = css.headers()[ETAG].clone();
    let again = client
        .get(format!("{shop}/static/seatmap.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let unchanged = client
        .get(format!("{shop}/static/app.css"))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);

    // Unknown pages and services that do not answer are pages too, never JSON or a stack trace.
    let missing = client
        .get(format!("{shop}/no/such/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let down = client.get(format!("{shop}/")).send().await.unwrap();
    assert_eq!(down.status(), StatusCode::BAD_GATEWAY);
    assert!(
        down.text()
            .await
            .unwrap()
            .contains("does not answer right now")
    );

    let ready = client.get(format!("{shop}/ready")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

/// Asked to stop, the storefront ends the seat-map streams it relays instead of waiting for the
/// browsers that keep a page open (seating ends its own the same way).
#[tokio::test]
async fn a_relayed_seat_map_stream_ends_when_the_storefront_stops() {
    use axum::body::{Body, Bytes};
    use futures::StreamExt;

    // Stands in for seating's stream of an event on sale: a heartbeat every 50 ms, never ending.
    let endless = axum::Router::new().route(
        "/v1/events/{id}/seatmap/stream",
        axum::routing::get(|| async {
            let beats = futures::stream::repeat(()).then(|()| async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                Ok::<_, std::convert::Infallible>(Bytes::from_static(b": heartbeat\n\n"))
            });
            (
                [(reqwest::header::CONTENT_TYPE, "text/event-stream")],
                Body::from_stream(beats),
            )
        }),
    );
    let seating = test_support::serve(endless).await;
    let mut env = test_support::env([
        ("USER_SERVICE_URL", NOWHERE),
        ("CATALOG_SERVICE_URL", NOWHERE),
        ("SEATING_SERVICE_URL", seating.as_str()),
        ("ORDER_SERVICE_URL", NOWHERE),
    ]);
    let config = storefront::Config::from_env(&mut env).unwrap();
    let closing = tokio_util::sync::CancellationToken::new();
    let shop = test_support::serve(storefront::app(&config, closing.clone())).await;

    let event = uuid::Uuid::now_v7();
    let response = reqwest::get(format!("{shop}/events/{event}/seatmap/stream"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut stream = response.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.starts_with(b": heartbeat"));

    closing.cancel();
    let ended = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            chunk.unwrap();
        }
    })
    .await;
    assert!(ended.is_ok(), "the relayed stream went on after the stop");
}
