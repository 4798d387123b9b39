//! A cache of user-service's JSON Web Key Set.
//!
//! Keys are fetched on first use, kept for an hour, and fetched again at once when a token names
//! a `kid` the cache does not know (user-service rotated its key). Unknown-`kid` refreshes are
//! spaced out so that a flood of forged tokens cannot turn into a flood of JWKS requests.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::{Mutex, RwLock};

use super::AuthError;

const MAX_AGE: Duration = Duration::from_secs(3600);
const MIN_REFRESH_INTERVAL: Duration = Duration::from_secs(5);

pub struct JwksCache {
    url: String,
    http: reqwest::Client,
    keys: RwLock<Keys>,
    refresh: Mutex<()>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, DecodingKey>,
    fetched_at: Option<Instant>,
    /// The last fetch, successful or not: failures are spaced out too, so that an unreachable
    /// user-service does not get one fetch per request.
    attempted_at: Option<Instant>,
    /// Whether that last fetch failed: an unknown key then means "cannot tell" (503), not
    /// "forged" (401).
    last_failed: bool,
}

impl Keys {
    fn fresh(&self, max_age: Duration) -> bool {
        self.fetched_at.is_some_and(|t| t.elapsed() < max_age)
    }

    fn attempted_within(&self, interval: Duration) -> bool {
        self.attempted_at.is_some_and(|t| t.elapsed() < interval)
    }
}

impl JwksCache {
    pub fn new(url: String, http: reqwest::Client) -> Self {
        Self {
            url,
            http,
            keys: RwLock::new(Keys::default()),
            refresh: Mutex::new(()),
        }
    }

    /// The key for `kid`, fetching the set when it is stale or does not know the `kid`.
    pub async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, AuthError> {
        {
            let keys = self.keys.read().await;
            if keys.fresh(MAX_AGE) {
                if let Some(key) = keys.by_kid.get(kid) {
                    return Ok(Some(key.clone()));
                }
            }
        }
        // One fetch at a time; whoever waited re-checks what the previous fetch brought.
        let _guard = self.refresh.lock().await;
        {
            let keys = self.keys.read().await;
            let known = keys.by_kid.get(kid);
            if known.is_some() && keys.fresh(MAX_AGE) {
                return Ok(known.cloned());
            }
            if keys.attempted_within(MIN_REFRESH_INTERVAL) {
                return match known {
                    Some(key) => Ok(Some(key.clone())),
                    None if keys.last_failed => Err(AuthError::KeysUnavailable(
                        "the last JWKS fetch failed moments ago".into(),
                    )),
                    None => Ok(None),
                };
            }
        }
        self.keys.write().await.attempted_at = Some(Instant::now());
        match self.fetch().await {
            Ok(by_kid) => {
                let mut keys = self.keys.write().await;
                keys.by_kid = by_kid;
                keys.fetched_at = Some(Instant::now());
                keys.last_failed = false;
                Ok(keys.by_kid.get(kid).cloned())
            }
            Err(err) => {
                // A stale key is better than no key while user-service is briefly away.
                let mut keys = self.keys.write().await;
                keys.last_failed = true;
                match keys.by_kid.get(kid) {
                    Some(key) => Ok(Some(key.clone())),
                    None => Err(err),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, AuthError> {
        let unavailable = |e: reqwest::Error| AuthError::KeysUnavailable(e.to_string());
        let set: JwkSet = self
            .http
            .get(&self.url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(unavailable)?
            .json()
            .await
            .map_err(unavailable)?;
        let mut by_kid = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    by_kid.insert(kid, key);
                }
                Err(e) => tracing::warn!(%kid, error = %e, "skipping an unusable JWK"),
            }
        }
        tracing::info!(url = %self.url, keys = by_kid.len(), "fetched JWKS");
        Ok(by_kid)
    }
}
