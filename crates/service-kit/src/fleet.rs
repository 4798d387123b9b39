//! A service's link to the rest of the fleet: where user-service is, who this service is, and
//! what follows from that — the verifier of incoming tokens (user-service's JWKS), the source of
//! its own service token, and clients for the services it calls.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::auth::TokenVerifier;
use crate::auth::service_token::ServiceTokenSource;
use crate::client::{ServiceClient, http_client};
use crate::config::{ConfigError, Env, service_credentials, service_url};
use crate::messages::Service;

/// `USER_SERVICE_URL`, `SERVICE_CLIENT_ID` and `SERVICE_CLIENT_SECRET`.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    pub user_service_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
}

impl FleetConfig {
    pub fn from_env(env: &mut Env, service: &str) -> Result<Self, ConfigError> {
        let (client_id, client_secret) = service_credentials(env, service)?;
        Ok(Self {
            user_service_url: user_service_url(env)?,
            client_id,
            client_secret,
        })
    }
}

/// `USER_SERVICE_URL`: what a service that only verifies tokens needs.
pub fn user_service_url(env: &mut Env) -> Result<String, ConfigError> {
    let (var, port) = Service::User.url_variable();
    service_url(env, var, port)
}

/// The verifier of tokens signed by the user-service at `user_service_url`.
pub fn verifier(user_service_url: &str, http: reqwest::Client) -> Arc<TokenVerifier> {
    Arc::new(TokenVerifier::with_jwks(
        format!("{user_service_url}/.well-known/jwks.json"),
        http,
    ))
}

/// The shared parts, built once per process.
#[derive(Clone, Debug)]
pub struct Fleet {
    pub http: reqwest::Client,
    pub verifier: Arc<TokenVerifier>,
    pub tokens: Arc<ServiceTokenSource>,
}

impl Fleet {
    pub fn new(config: &FleetConfig) -> Self {
        let http = http_client(Duration::from_secs(30));
        Self {
            verifier: verifier(&config.user_service_url, http.clone()),
            tokens: Arc::new(ServiceTokenSource::new(
                http.clone(),
                &config.user_service_url,
                config.client_id.clone(),
                config.client_secret.clone(),
            )),
            http,
        }
    }

    /// A client for `service` at `base_url`, sending this service's token.
    pub fn client(&self, service: Service, base_url: &str) -> ServiceClient {
        ServiceClient::new(service.name(), base_url, self.http.clone())
            .with_service_token(self.tokens.clone())
    }
}
