use reqwest::StatusCode;
use serde_json::{Value, json};
use service_kit::config::development_client_secret;
use service_kit::fleet::Service;
use sqlx::PgPool;

use crate::helpers::{PASSWORD, TestApp, access, assert_problem, test_env};

#[sqlx::test(migrations = false)]
async fn register_creates_a_customer_and_never_returns_the_password(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app
        .post(
            "/v1/users",
            &json!({"name": "Ada Lovelace", "email": "Ada@Example.com", "password": PASSWORD, "phone": "+44 20 7946 0958"}),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains(PASSWORD) && !text.contains("argon2"),
        "{text}"
    );
    let user: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(user["email"], "Ada@Example.com");
    assert_eq!(user["role"], "customer");
    assert_eq!(user["phone"], "+442079460958");
    assert_eq!(user["id"].as_str().unwrap().len(), 36);
    assert!(user["createdAt"].as_str().unwrap().ends_with('Z'));
    let stored: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
}

#[sqlx::test(migrations = false)]
async fn register_refuses_an_email_taken_in_another_case(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.registered("grace@example.com").await;
    let response = app.register("Grace", "GRACE@Example.COM", PASSWORD).await;
    let body = assert_problem(response, StatusCode::CONFLICT).await;
    assert!(body["type"].as_str().unwrap().ends_with("/email-taken"));
}

#[sqlx::test(migrations = false)]
async fn racing_registrations_of_one_email_create_one_account(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let attempts = (0..12).map(|i| {
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        app.register("Racer", email, PASSWORD)
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CONFLICT)
            .count(),
        11
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[sqlx::test(migrations = false)]
async fn register_lists_every_invalid_field(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app.register("Ada", "not-an-email", "short").await;
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password"]);
    assert!(
        body["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("10")
    );
}

#[sqlx::test(migrations = false)]
async fn register_answers_malformed_json_with_a_400_problem(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app
        .http
        .post(app.url("/v1/users"))
        .header("content-type", "application/json")
        .body(r#"{"name": "Ada", "email": "#)
        .send()
        .await
        .unwrap();
    let body = assert_problem(response, StatusCode::BAD_REQUEST).await;
    assert!(body["type"].as_str().unwrap().ends_with("/malformed-json"));
}

#[sqlx::test(migrations = false)]
async fn register_answers_a_missing_field_with_a_422_problem(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app.post("/v1/users", &json!({"name": "Ada"}), None).await;
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(body["detail"].as_str().unwrap().contains("email"));
}

#[sqlx::test(migrations = false)]
async fn me_needs_a_token_and_shows_the_caller(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let response = app.get("/v1/users/me", None).await;
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_problem(response, StatusCode::UNAUTHORIZED).await;

    let pair = app.signed_up("me@example.com").await;
    let response = app.get("/v1/users/me", Some(&access(&pair))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["email"], "me@example.com");
    assert_eq!(me, pair["user"]);
}

#[sqlx::test(migrations = false)]
async fn me_can_change_name_and_phone_and_clear_the_phone(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let token = access(&app.signed_up("patch@example.com").await);
    let response = app
        .patch(
            "/v1/users/me",
            &json!({"name": "New Name", "phone": "0123 456 789"}),
            &token,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(
        (me["name"].as_str(), me["phone"].as_str()),
        (Some("New Name"), Some("0123456789"))
    );

    let me: Value = app
        .patch("/v1/users/me", &json!({"phone": null}), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "New Name");
    assert!(me["phone"].is_null());

    let response = app
        .patch("/v1/users/me", &json!({"name": ""}), &token)
        .await;
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
}

#[sqlx::test(migrations = false)]
async fn a_user_sees_only_themselves_and_another_id_is_404(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let alice = app.signed_up("alice@example.com").await;
    let bob = app.registered("bob@example.com").await;
    let alice_id = alice["user"]["id"].as_str().unwrap();
    let bob_id = bob["id"].as_str().unwrap();

    let own = app
        .get(&format!("/v1/users/{alice_id}"), Some(&access(&alice)))
        .await;
    assert_eq!(own.status(), StatusCode::OK);
    let other = app
        .get(&format!("/v1/users/{bob_id}"), Some(&access(&alice)))
        .await;
    assert_problem(other, StatusCode::NOT_FOUND).await;
    let unknown = app
        .get(
            "/v1/users/0190c6a0-0000-7000-8000-000000000000",
            Some(&access(&alice)),
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND).await;
    let malformed = app.get("/v1/users/not-a-uuid", Some(&access(&alice))).await;
    assert_problem(malformed, StatusCode::BAD_REQUEST).await;
}

#[sqlx::test(migrations = false)]
async fn admins_and_order_service_see_any_user(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let bob = app.registered("bob@example.com").await;
    let path = format!("/v1/users/{}", bob["id"].as_str().unwrap());
    let admin = app.admin_token("root@example.com").await;
    assert_eq!(app.get(&path, Some(&admin)).await.status(), StatusCode::OK);

    // Only order-service calls user-service (for the buyer's name and e-mail): the other
    // services' tokens see nobody, as any caller who may not see a user.
    let clients = Service::ALL.into_iter().filter(|s| *s != Service::User);
    for client in clients.map(Service::name) {
        let service: Value = app
            .service_token(client, &development_client_secret(client))
            .await
            .json()
            .await
            .unwrap();
        let response = app
            .get(&path, Some(service["accessToken"].as_str().unwrap()))
            .await;
        let expected = if client == "order-service" {
            StatusCode::OK
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(response.status(), expected, "{client}");
    }
}

#[sqlx::test(migrations = false)]
async fn only_an_admin_changes_roles(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let carol = app.signed_up("carol@example.com").await;
    let carol_id = carol["user"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/users/{carol_id}/role");

    let response = app
        .patch(&path, &json!({"role": "admin"}), &access(&carol))
        .await;
    assert_problem(response, StatusCode::FORBIDDEN).await;

    let admin = app.admin_token("root@example.com").await;
    let response = app
        .patch(&path, &json!({"role": "organizer"}), &admin)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["role"], "organizer");

    // The session opened under the old role is over: its refresh token mints nothing more.
    let stale = app.refresh(carol["refreshToken"].as_str().unwrap()).await;
    assert_problem(stale, StatusCode::UNAUTHORIZED).await;
    // The new role is in the next login's token.
    let pair = app.logged_in("carol@example.com", PASSWORD).await;
    assert_eq!(pair["user"]["role"], "organizer");
    // Setting the role it already has ends no session.
    let same = app
        .patch(&path, &json!({"role": "organizer"}), &admin)
        .await;
    assert_eq!(same.status(), StatusCode::OK);
    let still = app.refresh(pair["refreshToken"].as_str().unwrap()).await;
    assert_eq!(still.status(), StatusCode::OK);

    let response = app.patch(&path, &json!({"role": "service"}), &admin).await;
    let body = assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["errors"][0]["field"], "role");
    let response = app
        .patch(
            "/v1/users/0190c6a0-0000-7000-8000-000000000000/role",
            &json!({"role": "admin"}),
            &admin,
        )
        .await;
    assert_problem(response, StatusCode::NOT_FOUND).await;
}

#[sqlx::test(migrations = false)]
async fn the_configured_admin_is_created_at_start_up(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("ADMIN_EMAIL", "boss@example.com"),
            ("ADMIN_PASSWORD", "very secret admin"),
        ],
    )
    .await;
    let pair = app.logged_in("boss@example.com", "very secret admin").await;
    assert_eq!(pair["user"]["role"], "admin");
}

#[sqlx::test(migrations = false)]
async fn an_existing_account_of_the_admin_email_is_not_promoted_by_a_restart(pool: PgPool) {
    // Someone registered the address before the operator configured it.
    let app = TestApp::spawn(pool.clone()).await;
    let stranger = app.signed_up("boss@example.com").await;
    let admin_vars = [
        ("ADMIN_EMAIL", "BOSS@example.com"),
        ("ADMIN_PASSWORD", "very secret admin"),
    ];
    service_kit::db::migrate(&pool, &user_service::db::MIGRATIONS)
        .await
        .unwrap();
    let refused =
        service_kit::app::build::<user_service::Users>(test_env(&admin_vars), pool.clone())
            .await
            .err()
            .expect("the start-up is refused");
    let message = format!("{refused:#}");
    assert!(message.contains("ADMIN_PROMOTE_EXISTING"), "{message}");
    // Nothing changed: still a customer, with its own password and session.
    let pair = app.logged_in("boss@example.com", PASSWORD).await;
    assert_eq!(pair["user"]["role"], "customer");
    let refreshed = app
        .refresh(stranger["refreshToken"].as_str().unwrap())
        .await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let stranger: Value = refreshed.json().await.unwrap();

    // The operator who means it says so: promoted, the password replaced, and every session
    // opened before (which could otherwise mint admin tokens) ended.
    let promote = [
        admin_vars[0],
        admin_vars[1],
        ("ADMIN_PROMOTE_EXISTING", "true"),
    ];
    let app = TestApp::spawn_with(pool, &promote).await;
    let pair = app.logged_in("boss@example.com", "very secret admin").await;
    assert_eq!(pair["user"]["role"], "admin");
    let response = app.login("boss@example.com", PASSWORD).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the old password is replaced"
    );
    let stale = app
        .refresh(stranger["refreshToken"].as_str().unwrap())
        .await;
    assert_problem(stale, StatusCode::UNAUTHORIZED).await;
}

#[sqlx::test(migrations = false)]
async fn a_restart_with_the_same_admin_password_keeps_the_admins_sessions(pool: PgPool) {
    let vars = [
        ("ADMIN_EMAIL", "boss@example.com"),
        ("ADMIN_PASSWORD", "very secret admin"),
    ];
    let app = TestApp::spawn_with(pool.clone(), &vars).await;
    let pair = app.logged_in("boss@example.com", "very secret admin").await;
    let app = TestApp::spawn_with(pool.clone(), &vars).await;
    let kept = app.refresh(pair["refreshToken"].as_str().unwrap()).await;
    assert_eq!(kept.status(), StatusCode::OK);
    let pair: Value = kept.json().await.unwrap();
    // A new password ends them.
    let app =
        TestApp::spawn_with(pool, &[vars[0], ("ADMIN_PASSWORD", "another admin secret")]).await;
    let ended = app.refresh(pair["refreshToken"].as_str().unwrap()).await;
    assert_problem(ended, StatusCode::UNAUTHORIZED).await;
}

#[sqlx::test(migrations = false)]
async fn registrations_are_throttled_per_client_address_before_any_work(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("REGISTRATIONS_PER_ADDRESS_PER_MINUTE", "2"),
            ("REGISTRATIONS_PER_ADDRESS_BURST", "3"),
        ],
    )
    .await;
    for i in 0..3 {
        let ok = app
            .register("Bot", &format!("bot{i}@example.com"), PASSWORD)
            .await;
        assert_eq!(ok.status(), StatusCode::CREATED);
    }
    // Even a request that would fail validation counts and is refused first.
    for email in ["bot9@example.com", "not-an-address"] {
        let refused = app.register("Bot", email, PASSWORD).await;
        assert_eq!(refused.headers()["retry-after"], "30");
        let body = assert_problem(refused, StatusCode::TOO_MANY_REQUESTS).await;
        assert_eq!(
            body["type"].as_str().unwrap().rsplit('/').next(),
            Some("rate-limited")
        );
    }
    // Logins are not registrations.
    assert_eq!(
        app.login("bot0@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn a_taken_email_is_refused_without_hashing_and_a_flood_is_bounded(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.registered("taken@example.com").await;
    // 60 registrations at once, beyond the hashers' queue for registrations: the extra ones
    // are refused at once with 503 and Retry-After, none fails otherwise; the taken e-mail
    // is refused 409 whatever the queue holds (it needs no hash).
    let attempts = (0..60).map(|i| {
        let app = &app;
        async move {
            let email = if i % 10 == 0 {
                "TAKEN@example.com".to_owned()
            } else {
                format!("flood{i}@example.com")
            };
            app.register("Flood", &email, PASSWORD).await
        }
    });
    let responses = futures::future::join_all(attempts).await;
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for (i, response) in responses.into_iter().enumerate() {
        let status = response.status();
        if i % 10 == 0 {
            assert_eq!(status, StatusCode::CONFLICT);
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(response.headers()["retry-after"], "1");
        } else {
            assert_eq!(status, StatusCode::CREATED);
        }
        *statuses.entry(status.as_u16()).or_default() += 1;
    }
    assert_eq!(statuses.get(&409), Some(&6), "{statuses:?}");
    assert!(
        statuses.contains_key(&503),
        "the queue was never full: {statuses:?}"
    );
    // Logins still get their answer while registrations flood.
    assert_eq!(
        app.login("taken@example.com", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[sqlx::test(migrations = false)]
async fn a_non_admin_gets_403_whatever_role_it_asks_for(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let carol = app.signed_up("carol@example.com").await;
    let path = format!("/v1/users/{}/role", carol["user"]["id"].as_str().unwrap());
    let response = app
        .patch(&path, &json!({"role": "wizard"}), &access(&carol))
        .await;
    assert_problem(response, StatusCode::FORBIDDEN).await;
}

#[sqlx::test(migrations = false)]
async fn email_case_is_ignored_beyond_ascii(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    app.registered("Émile@Exemple.fr").await;
    let pair = app.logged_in("ÉMILE@EXEMPLE.FR", PASSWORD).await;
    assert_eq!(pair["user"]["email"], "Émile@Exemple.fr");
    let duplicate = app.register("Émile", "émile@exemple.fr", PASSWORD).await;
    assert_problem(duplicate, StatusCode::CONFLICT).await;
}

#[sqlx::test(migrations = false)]
async fn a_user_with_an_unknown_stored_role_answers_500_without_the_value(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let pair = app.signed_up("rolling@example.com").await;
    // The CHECK constraint would refuse it: only a corrupted database holds such a role.
    sqlx::query("ALTER TABLE users DROP CONSTRAINT users_role_check")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE users SET role = 'superuser' WHERE email = 'rolling@example.com'")
        .execute(&app.pool)
        .await
        .unwrap();
    let body = assert_problem(
        app.get("/v1/users/me", Some(&access(&pair))).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert!(!body.to_string().contains("superuser"), "{body}");
}
