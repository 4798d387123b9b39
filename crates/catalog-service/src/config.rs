//! catalog-service's own settings: none beyond what the kit reads (the common ones, and the
//! URLs of seating and user-service that follow from its links).

use service_kit::config::{ConfigError, Env};

pub const SERVICE: &str = "catalog-service";

#[derive(Debug, Clone)]
pub struct Config;

impl Config {
    pub fn from_env(_env: &mut Env) -> Result<Self, ConfigError> {
        Ok(Self)
    }
}
