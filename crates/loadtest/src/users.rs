//! user-service over HTTP. Register and login are dominated by argon2id (by design); `/me` shows
//! token verification plus one indexed read; `/health` is the HTTP floor of the same process.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::drive::{drive, label};

const PASSWORD: &str = "load test password";

pub async fn run(base_url: &str, concurrency: usize, duration: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = Arc::<str>::from(base_url.trim_end_matches('/'));
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    println!(
        "user-service at {base}: {concurrency} clients, {}s per phase, argon2id m=19456 KiB t=2 p=1",
        duration.as_secs()
    );

    let register = {
        let (http, base, run_id) = (http.clone(), base.clone(), run_id.clone());
        drive("POST /v1/users", concurrency, duration, move |worker, i| {
            let (http, base, run_id) = (http.clone(), base.clone(), run_id.clone());
            async move {
                let body = json!({
                    "name": "Load Test",
                    "email": email(&run_id, worker, i),
                    "password": PASSWORD,
                });
                label(
                    http.post(format!("{base}/v1/users"))
                        .json(&body)
                        .send()
                        .await,
                    StatusCode::CREATED,
                )
            }
        })
        .await
    };
    register.print();

    // Log in as the users just registered (each worker its own, round-robin).
    let per_worker = usize::try_from(register.requests()).unwrap_or(1) / concurrency.max(1);
    let accounts = per_worker.max(1) as u64;
    let login = {
        let (http, base, run_id) = (http.clone(), base.clone(), run_id.clone());
        drive("POST /v1/auth/login", concurrency, duration, move |worker, i| {
            let (http, base, run_id) = (http.clone(), base.clone(), run_id.clone());
            async move {
                let body = json!({"email": email(&run_id, worker, i % accounts), "password": PASSWORD});
                label(http.post(format!("{base}/v1/auth/login")).json(&body).send().await, StatusCode::OK)
            }
        })
        .await
    };
    login.print();

    let pair: Value = http
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": email(&run_id, 0, 0), "password": PASSWORD}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = Arc::<str>::from(pair["accessToken"].as_str().unwrap_or_default());

    let me = {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        drive("GET /v1/users/me", concurrency, duration, move |_, _| {
            let (http, base, token) = (http.clone(), base.clone(), token.clone());
            async move {
                label(
                    http.get(format!("{base}/v1/users/me"))
                        .bearer_auth(&*token)
                        .send()
                        .await,
                    StatusCode::OK,
                )
            }
        })
        .await
    };
    me.print();

    let health = {
        let (http, base) = (http.clone(), base.clone());
        drive("GET /health", concurrency, duration, move |_, _| {
            let (http, base) = (http.clone(), base.clone());
            async move {
                label(
                    http.get(format!("{base}/health")).send().await,
                    StatusCode::OK,
                )
            }
        })
        .await
    };
    health.print();
    println!(
        "/me costs {:.2}x /health per request (token verification + one indexed read)",
        health.per_second() / me.per_second()
    );
    Ok(())
}

fn email(run_id: &str, worker: usize, i: u64) -> String {
    format!("lt-{run_id}-{worker}-{i}@example.com")
}
