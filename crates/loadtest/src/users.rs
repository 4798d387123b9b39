//! user-service over HTTP. Register and login are dominated by argon2id (by design); `/me` shows
//! token verification plus one indexed read; `/health` is the HTTP floor of the same process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::drive::{Stats, drive, label};

const PASSWORD: &str = "load test password";

#[derive(Clone)]
struct Target {
    http: reqwest::Client,
    base: Arc<str>,
    concurrency: usize,
    duration: Duration,
}

pub async fn run(base_url: &str, concurrency: usize, duration: Duration) -> anyhow::Result<()> {
    let target = Target {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .timeout(Duration::from_secs(30))
            .build()?,
        base: Arc::from(base_url.trim_end_matches('/')),
        concurrency,
        duration,
    };
    println!(
        "user-service at {}: {concurrency} clients, {}s per phase, argon2id m=19456 KiB t=2 p=1",
        target.base,
        duration.as_secs()
    );
    let accounts = register(&target).await;
    anyhow::ensure!(!accounts.is_empty(), "no user could register");
    login(&target, &accounts).await.print();

    let pair: Value = target
        .http
        .post(format!("{}/v1/auth/login", target.base))
        .json(&json!({"email": accounts[0], "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = pair["accessToken"].as_str().map(Arc::<str>::from);
    let me = get(&target, "/v1/users/me", token).await;
    me.print();
    let health = get(&target, "/health", None).await;
    health.print();
    println!(
        "/me costs {:.2}x /health per request (token verification + one indexed read)",
        health.per_second() / me.per_second()
    );
    Ok(())
}

/// Registers accounts for the phase's duration; returns the e-mails that registered.
async fn register(target: &Target) -> Arc<[String]> {
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let registered = Arc::new(Mutex::new(Vec::new()));
    let stats = {
        let (target, registered) = (target.clone(), registered.clone());
        drive(
            "POST /v1/users",
            target.concurrency,
            target.duration,
            move |worker, i| {
                let (target, registered) = (target.clone(), registered.clone());
                let email = format!("lt-{run_id}-{worker}-{i}@example.com");
                async move {
                    let body = json!({"name": "Load Test", "email": email, "password": PASSWORD});
                    let sent = target
                        .http
                        .post(format!("{}/v1/users", target.base))
                        .json(&body)
                        .send();
                    let outcome = label(sent.await, StatusCode::CREATED);
                    if outcome == "ok" {
                        registered.lock().expect("not poisoned").push(email);
                    }
                    outcome
                }
            },
        )
        .await
    };
    stats.print();
    registered.lock().expect("not poisoned").clone().into()
}

/// Logs in as the registered accounts, spread over them.
async fn login(target: &Target, accounts: &Arc<[String]>) -> Stats {
    let (target, accounts) = (target.clone(), accounts.clone());
    drive(
        "POST /v1/auth/login",
        target.concurrency,
        target.duration,
        move |worker, i| {
            let target = target.clone();
            let pick = (worker + usize::try_from(i).unwrap_or(0) * 7) % accounts.len();
            let body = json!({"email": accounts[pick], "password": PASSWORD});
            async move {
                let sent = target
                    .http
                    .post(format!("{}/v1/auth/login", target.base))
                    .json(&body)
                    .send();
                label(sent.await, StatusCode::OK)
            }
        },
    )
    .await
}

/// GETs `path`, with a bearer token when given.
async fn get(target: &Target, path: &'static str, token: Option<Arc<str>>) -> Stats {
    let target = target.clone();
    drive(
        &format!("GET {path}"),
        target.concurrency,
        target.duration,
        move |_, _| {
            let (target, token) = (target.clone(), token.clone());
            async move {
                let mut request = target.http.get(format!("{}{path}", target.base));
                if let Some(token) = token {
                    request = request.bearer_auth(&*token);
                }
                label(request.send().await, StatusCode::OK)
            }
        },
    )
    .await
}

/// A registration flood (`flooders` clients registering new accounts as fast as they are
/// answered) with, beside it, one client logging in as an existing account again and again: how
/// long a login takes while anonymous clients try to exhaust the password hashers. The
/// registration throttle per address must be off for the flood to reach the hashers at all
/// (every client here is one address); the hashing queue's bound is what is measured.
pub async fn flood(base_url: &str, flooders: usize, duration: Duration) -> anyhow::Result<()> {
    let target = Target {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(flooders + 1)
            .timeout(Duration::from_secs(30))
            .build()?,
        base: Arc::from(base_url.trim_end_matches('/')),
        concurrency: flooders,
        duration,
    };
    let email = format!("flood-victim-{}@example.com", uuid::Uuid::now_v7().simple());
    target
        .http
        .post(format!("{}/v1/users", target.base))
        .json(&json!({"name": "Victim", "email": email, "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?;
    println!(
        "registration flood: {flooders} clients registering for {}s, and one client logging in beside them",
        duration.as_secs()
    );
    let flooding = register(&target);
    let logins = {
        let target = target.clone();
        let body = json!({"email": email, "password": PASSWORD});
        drive(
            "POST /v1/auth/login during the flood",
            1,
            duration,
            move |_, _| {
                let (target, body) = (target.clone(), body.clone());
                async move {
                    let sent = target
                        .http
                        .post(format!("{}/v1/auth/login", target.base))
                        .json(&body)
                        .send();
                    label(sent.await, StatusCode::OK)
                }
            },
        )
    };
    let (_, logins) = tokio::join!(flooding, logins);
    logins.print();
    Ok(())
}
