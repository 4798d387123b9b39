//! The storefront's settings, from the environment, with development defaults like the services.

use std::time::Duration;

use axum_extra::extract::cookie::Key;
use base64::Engine;
use secrecy::ExposeSecret;
use service_kit::config::{ConfigError, Env, service_url};
use service_kit::telemetry::LogFormat;

/// The storefront's port (`PORT`).
pub const DEFAULT_PORT: u16 = 8000;

/// The development cookie key: public (it is in this source), so production refuses it.
const DEVELOPMENT_COOKIE_KEY: &str =
    "ZGV2ZWxvcG1lbnQtb25seS1zdG9yZWZyb250LWNvb2tpZS1rZXktbmV2ZXItdXNlLWl0LWluLXByb2R1Y3Rpb24h";

#[derive(Clone)]
pub struct Config {
    pub port: u16,
    pub log_format: LogFormat,
    pub user_url: String,
    pub catalog_url: String,
    pub seating_url: String,
    pub order_url: String,
    /// Encrypts and signs the session cookie (`STOREFRONT_COOKIE_KEY`: at least 64 bytes,
    /// base64). Every replica needs the same key.
    pub cookie_key: Key,
    /// Marks the session cookie `Secure` (`COOKIE_SECURE`; on by default in production, where the
    /// storefront sits behind TLS).
    pub secure_cookies: bool,
    /// How long the event page reuses an event's details and seat statuses before asking catalog
    /// and seating again (`EVENT_PAGE_REFRESH_MS`, 250; 0: every time). The page's script replaces
    /// the statuses with the live stream's as soon as it connects.
    pub seat_map_refresh: Duration,
    /// Calls to the services give up after this long (`UPSTREAM_TIMEOUT_SECONDS`, 10).
    pub upstream_timeout: Duration,
    /// Requests running longer are abandoned (`REQUEST_TIMEOUT_SECONDS`, 30); the seat map's
    /// stream is exempt.
    pub request_timeout: Duration,
    pub trusted_proxies: service_kit::extract::TrustedProxies,
}

impl Config {
    pub fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        let production = env.app_env() == service_kit::config::AppEnv::Production;
        let secret = env.secret("STOREFRONT_COOKIE_KEY", DEVELOPMENT_COOKIE_KEY)?;
        let cookie_key =
            decode_key(secret.expose_secret()).ok_or_else(|| ConfigError::Invalid {
                var: "STOREFRONT_COOKIE_KEY".into(),
                reason: "64 bytes or more, base64 (openssl rand -base64 64)".into(),
            })?;
        Ok(Self {
            port: env.parse_or("PORT", DEFAULT_PORT)?,
            log_format: env.parse_or("LOG_FORMAT", LogFormat::Json)?,
            user_url: service_url(env, "USER_SERVICE_URL", 8080)?,
            catalog_url: service_url(env, "CATALOG_SERVICE_URL", 3002)?,
            seating_url: service_url(env, "SEATING_SERVICE_URL", 4000)?,
            order_url: service_url(env, "ORDER_SERVICE_URL", 3007)?,
            cookie_key,
            secure_cookies: env.parse_or("COOKIE_SECURE", production)?,
            seat_map_refresh: Duration::from_millis(env.parse_or("EVENT_PAGE_REFRESH_MS", 250)?),
            upstream_timeout: Duration::from_secs(env.parse_or("UPSTREAM_TIMEOUT_SECONDS", 10)?),
            request_timeout: Duration::from_secs(env.parse_or("REQUEST_TIMEOUT_SECONDS", 30)?),
            trusted_proxies: env.parse_or(
                "TRUSTED_PROXIES",
                service_kit::extract::TrustedProxies::default(),
            )?,
        })
    }
}

/// The cookie key from its base64 form; `None` unless it is 64 bytes or more.
fn decode_key(raw: &str) -> Option<Key> {
    let raw = raw.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(raw))
        .ok()?;
    Key::try_from(bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_fn(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .unwrap()
    }

    #[test]
    fn starts_with_nothing_set_and_refuses_the_development_key_in_production() {
        let config = Config::from_env(&mut env(&[])).unwrap();
        assert_eq!(config.port, DEFAULT_PORT);
        assert!(!config.secure_cookies);
        assert!(Config::from_env(&mut env(&[("APP_ENV", "production")])).is_err());
    }

    #[test]
    fn a_short_key_is_refused() {
        let err = Config::from_env(&mut env(&[("STOREFRONT_COOKIE_KEY", "c2hvcnQ=")]));
        assert!(err.is_err());
    }
}
