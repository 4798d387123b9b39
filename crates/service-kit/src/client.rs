//! Calls from one service to another.
//!
//! Every call carries the current `X-Request-Id` and, when configured, a service token; it has a
//! timeout; and it is retried with exponential back-off on transport errors and 502/503/504, but
//! only when repeating it is harmless: the method is idempotent (GET, PUT, DELETE, HEAD) or the
//! call carries an `Idempotency-Key`.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::service_token::{ServiceTokenError, ServiceTokenSource};
use crate::telemetry::{REQUEST_ID_HEADER, current_request_id};

/// How hard to try.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The pause before attempt `attempt + 1`: doubling, capped, with jitter so that many callers
    /// retrying at once do not stay in step.
    fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .first_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exp.min(self.max_delay);
        let jitter = rand::random::<f64>() * 0.5 + 0.75;
        capped.mul_f64(jitter)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{service} could not be reached: {source}")]
    Unreachable {
        service: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("no service token: {0}")]
    Token(#[from] ServiceTokenError),
    #[error("{service} answered {status}: {body}")]
    Status {
        service: &'static str,
        status: StatusCode,
        body: String,
    },
    #[error("{service} answered with an unreadable body: {source}")]
    Decode {
        service: &'static str,
        #[source]
        source: reqwest::Error,
    },
}

impl ClientError {
    /// The HTTP status the other service answered, if it answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A typed client for one other service.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    service: &'static str,
    base_url: String,
    http: reqwest::Client,
    tokens: Option<Arc<ServiceTokenSource>>,
    retry: RetryPolicy,
}

/// A `reqwest::Client` with the fleet's connection settings.
pub fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        // A redirect would carry the service token (or a gateway's key) to wherever the
        // Location header points: a 3xx is an answer, not an instruction.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("the HTTP client configuration is static and valid")
}

impl ServiceClient {
    /// `service` names the callee in logs and errors; `base_url` has no trailing slash.
    pub fn new(service: &'static str, base_url: &str, http: reqwest::Client) -> Self {
        Self {
            service,
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
            tokens: None,
            retry: RetryPolicy::default(),
        }
    }

    /// Sends a service token with every call.
    #[must_use]
    pub fn with_service_token(mut self, tokens: Arc<ServiceTokenSource>) -> Self {
        self.tokens = Some(tokens);
        self
    }

    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn request(&self, method: Method, path: &str) -> Call<'_> {
        Call {
            client: self,
            method,
            path: path.to_owned(),
            body: None,
            idempotency_key: None,
            retry_safe: false,
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call<'_> {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> Call<'_> {
        self.request(Method::DELETE, path)
    }
}

/// One call being built.
#[must_use]
pub struct Call<'a> {
    client: &'a ServiceClient,
    method: Method,
    path: String,
    body: Option<serde_json::Value>,
    idempotency_key: Option<String>,
    retry_safe: bool,
}

impl Call<'_> {
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        // Serialising our own types to a Value cannot fail (no non-string map keys).
        self.body = serde_json::to_value(body).ok();
        self
    }

    /// Sends `Idempotency-Key`, which also makes a POST safe to retry.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Declares the call safe to repeat though its method is not idempotent in HTTP terms: the
    /// operation itself is (seating's allocate for one order, say).
    pub fn retry_safe(mut self) -> Self {
        self.retry_safe = true;
        self
    }

    fn retryable(&self) -> bool {
        self.retry_safe
            || self.idempotency_key.is_some()
            || matches!(
                self.method,
                Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
            )
    }

    /// Sends the call, retrying as the policy allows, and returns whatever the service answered
    /// last (any status). Only a transport failure after the last attempt is an error.
    pub async fn send(self) -> Result<reqwest::Response, ClientError> {
        let client = self.client;
        let url = format!("{}{}", client.base_url, self.path);
        let attempts = if self.retryable() {
            client.retry.max_attempts.max(1)
        } else {
            1
        };
        let request_id = current_request_id().unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let mut refreshed_token = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = client
                .http
                .request(self.method.clone(), &url)
                .header(REQUEST_ID_HEADER, &request_id);
            if let Some(tokens) = &client.tokens {
                request = request.bearer_auth(tokens.token().await?.expose_secret());
            }
            if let Some(key) = &self.idempotency_key {
                request = request.header("idempotency-key", key);
            }
            if let Some(body) = &self.body {
                request = request.json(body);
            }
            let outcome = request.send().await;
            let retry = match &outcome {
                Ok(response) if response.status() == StatusCode::UNAUTHORIZED => {
                    // Our cached service token may have been refused (a restarted user-service
                    // with a new key): fetch a fresh one once, whatever the method.
                    if let (Some(tokens), false) = (&client.tokens, refreshed_token) {
                        tokens.invalidate().await;
                        refreshed_token = true;
                        attempt -= 1;
                        true
                    } else {
                        false
                    }
                }
                Ok(response) => matches!(
                    response.status(),
                    StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                ),
                Err(_) => true,
            };
            if !retry || attempt >= attempts {
                return outcome.map_err(|source| ClientError::Unreachable {
                    service: client.service,
                    source,
                });
            }
            let delay = client.retry.delay(attempt);
            tracing::warn!(
                service = client.service,
                method = %self.method,
                path = %self.path,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "call failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Sends the call and decodes a 2xx JSON answer; any other status is [`ClientError::Status`].
    pub async fn send_json<T: DeserializeOwned>(self) -> Result<T, ClientError> {
        let service = self.client.service;
        let response = self.send().await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(ClientError::Status {
                service,
                status,
                body,
            });
        }
        response
            .json()
            .await
            .map_err(|source| ClientError::Decode { service, source })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn serve(router: axum::Router) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, router).await });
        url
    }

    #[tokio::test]
    async fn a_redirect_is_an_answer_and_the_token_goes_nowhere_else() {
        let elsewhere_hits = Arc::new(AtomicUsize::new(0));
        let hits = elsewhere_hits.clone();
        let elsewhere = serve(axum::Router::new().fallback(move || {
            hits.fetch_add(1, Ordering::SeqCst);
            async { "stolen" }
        }))
        .await;
        let location = format!("{elsewhere}/collect");
        let redirecting = serve(axum::Router::new().fallback(move || {
            let location = location.clone();
            async move { axum::response::Redirect::temporary(&location) }
        }))
        .await;
        let response = http_client(Duration::from_secs(5))
            .get(format!("{redirecting}/v1/anything"))
            .bearer_auth("a-service-token")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), reqwest::StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn back_off_doubles_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
        };
        let first = policy.delay(1);
        assert!(first >= Duration::from_millis(75) && first <= Duration::from_millis(125));
        let third = policy.delay(3);
        assert!(third >= Duration::from_millis(300) && third <= Duration::from_millis(500));
        assert!(policy.delay(9) <= Duration::from_millis(625));
    }
}
