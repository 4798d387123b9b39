//! catalog-service's configuration.

use secrecy::SecretString;
use service_kit::config::{self, CommonConfig, ConfigError, Env, ports};
use service_kit::messages::Service;
use service_kit::messages::outbox::RelayPolicy;

pub const SERVICE: &str = "catalog-service";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    pub user_service_url: String,
    pub seating_service_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub relay: RelayPolicy,
}

impl Config {
    pub fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env, SERVICE, ports::CATALOG, "catalog")?;
        let (user_var, user_port) = Service::User.url_variable();
        let (seating_var, seating_port) = Service::Seating.url_variable();
        let (client_id, client_secret) = config::service_credentials(env, SERVICE)?;
        Ok(Self {
            common,
            user_service_url: config::service_url(env, user_var, user_port)?,
            seating_service_url: config::service_url(env, seating_var, seating_port)?,
            client_id,
            client_secret,
            relay: RelayPolicy::from_env(env)?,
        })
    }
}
