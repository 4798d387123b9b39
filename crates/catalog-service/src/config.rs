//! catalog-service's configuration.

use service_kit::config::{self, CommonConfig, ConfigError, Env, ports};
use service_kit::fleet::FleetConfig;
use service_kit::messages::Service;
use service_kit::messages::outbox::RelayPolicy;

pub const SERVICE: &str = "catalog-service";

#[derive(Debug, Clone)]
pub struct Config {
    pub common: CommonConfig,
    /// user-service and this service's credentials.
    pub fleet: FleetConfig,
    pub seating_service_url: String,
    pub relay: RelayPolicy,
}

impl Config {
    pub fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        let common = CommonConfig::from_env(env, SERVICE, ports::CATALOG, "catalog")?;
        let (seating_var, seating_port) = Service::Seating.url_variable();
        Ok(Self {
            common,
            fleet: FleetConfig::from_env(env, SERVICE)?,
            seating_service_url: config::service_url(env, seating_var, seating_port)?,
            relay: RelayPolicy::from_env(env)?,
        })
    }
}
