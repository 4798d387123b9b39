//! payment-service: charges through the HTTP API, each client with its own keys and orders, as
//! order-service would send them.

use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::drive::{drive, label};

pub async fn run(
    payment_url: &str,
    user_url: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .timeout(Duration::from_secs(30))
        .build()?;
    let token: Value = http
        .post(format!(
            "{}/v1/auth/service-token",
            user_url.trim_end_matches('/')
        ))
        .json(&json!({"clientId": "order-service", "clientSecret": crate::seating::client_secret("order-service")}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let token = Arc::<str>::from(token["accessToken"].as_str().unwrap_or_default());
    let url = Arc::<str>::from(format!(
        "{}/v1/payments/charge",
        payment_url.trim_end_matches('/')
    ));
    println!(
        "payment-service at {payment_url}: {concurrency} clients, {}s",
        duration.as_secs()
    );
    let stats = drive(
        "POST /v1/payments/charge",
        concurrency,
        duration,
        move |_, _| {
            let (http, url, token) = (http.clone(), url.clone(), token.clone());
            async move {
                let body = json!({
                    "orderId": Uuid::now_v7(),
                    "userId": Uuid::now_v7(),
                    "amount": "262.50",
                    "currency": "EUR",
                    "method": "card",
                    "token": "tok_visa",
                });
                let sent = http
                    .post(&*url)
                    .bearer_auth(&*token)
                    .header("idempotency-key", Uuid::now_v7().to_string())
                    .json(&body)
                    .send();
                label(sent.await, StatusCode::CREATED)
            }
        },
    )
    .await;
    stats.print();
    Ok(())
}
