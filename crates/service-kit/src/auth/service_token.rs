//! Service tokens: a service authenticates to another with a token from user-service's
//! client-credentials endpoint, cached and renewed a minute before it expires.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

/// Renew this long before expiry, so a token never expires in flight.
const RENEW_MARGIN: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ServiceTokenError {
    #[error("user-service could not be reached for a service token: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("user-service refused the service credentials (status {0})")]
    Refused(u16),
}

pub struct ServiceTokenSource {
    http: reqwest::Client,
    url: String,
    client_id: String,
    client_secret: SecretString,
    cached: Mutex<Option<Cached>>,
}

struct Cached {
    token: SecretString,
    renew_at: Instant,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenAnswer {
    access_token: String,
    expires_in: u64,
}

impl std::fmt::Debug for ServiceTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceTokenSource")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl ServiceTokenSource {
    /// `user_service_url` is the base URL of user-service.
    pub fn new(
        http: reqwest::Client,
        user_service_url: &str,
        client_id: String,
        client_secret: SecretString,
    ) -> Self {
        Self {
            http,
            url: format!(
                "{}/v1/auth/service-token",
                user_service_url.trim_end_matches('/')
            ),
            client_id,
            client_secret,
            cached: Mutex::new(None),
        }
    }

    /// A valid token, fetched only when the cached one is missing or about to expire.
    pub async fn token(&self) -> Result<SecretString, ServiceTokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(c.token.clone());
        }
        let answer = self.fetch().await?;
        let lifetime = Duration::from_secs(answer.expires_in);
        let token = SecretString::from(answer.access_token);
        *cached = Some(Cached {
            token: token.clone(),
            renew_at: Instant::now() + lifetime.saturating_sub(RENEW_MARGIN),
        });
        Ok(token)
    }

    /// Forgets the cached token (after a 401, say) so the next call fetches a new one.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    async fn fetch(&self) -> Result<TokenAnswer, ServiceTokenError> {
        let response = self
            .http
            .post(&self.url)
            .timeout(Duration::from_secs(5))
            .json(&serde_json::json!({
                "clientId": self.client_id,
                "clientSecret": self.client_secret.expose_secret(),
            }))
            .send()
            .await
            .map_err(ServiceTokenError::Unreachable)?;
        if !response.status().is_success() {
            return Err(ServiceTokenError::Refused(response.status().as_u16()));
        }
        response
            .json()
            .await
            .map_err(ServiceTokenError::Unreachable)
    }
}
