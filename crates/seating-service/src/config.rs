//! seating-service's own settings (the kit reads the common ones and the fleet's URLs).

use std::time::Duration;

use service_kit::app::FromEnv;
use service_kit::config::{ConfigError, Env};

pub const SERVICE: &str = "seating-service";

#[derive(Debug, Clone)]
pub struct Config {
    /// How long a hold lasts when the request does not say (`HOLD_TTL_SECONDS`, 900).
    pub hold_ttl: Duration,
    /// How often expired holds are marked `EXPIRED` (they stop blocking at `expiresAt` anyway).
    pub sweep_interval: Duration,
}

impl FromEnv for Config {
    fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        Ok(Self {
            hold_ttl: Duration::from_secs(hold_ttl(env)?),
            // At least 10 ms: a zero interval is not a schedule.
            sweep_interval: Duration::from_millis(
                env.parse_or::<u64>("HOLD_SWEEP_INTERVAL_MS", 1000)?.max(10),
            ),
        })
    }
}

/// `HOLD_TTL_SECONDS`: 1 second to 1 hour, the range a request's `ttlSeconds` may take too.
fn hold_ttl(env: &Env) -> Result<u64, ConfigError> {
    let seconds = env.parse_or("HOLD_TTL_SECONDS", 900)?;
    if (1..=3600).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ConfigError::Invalid {
            var: "HOLD_TTL_SECONDS".into(),
            reason: "must be between 1 and 3600".into(),
        })
    }
}
