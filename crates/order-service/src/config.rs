//! order-service's own settings (the kit reads the common ones and the fleet's URLs).

use std::time::Duration;

use secrecy::SecretString;
use service_kit::app::FromEnv;
use service_kit::config::{ConfigError, Env};

pub const SERVICE: &str = "order-service";

#[derive(Debug, Clone)]
pub struct Config {
    /// Ed25519 private key (PKCS#8 PEM) that signs ticket payloads (`TICKET_SIGNING_KEY`); when
    /// absent, one is generated once and kept in the database.
    pub ticket_signing_key: Option<SecretString>,
    /// A step whose driver has not moved it for this long is taken over by the recovery task
    /// (`ORDER_STEP_LEASE_SECONDS`, 60: longer than any request may run).
    pub step_lease: Duration,
    /// How often the recovery task looks for stalled orders (`ORDER_RECOVERY_INTERVAL_MS`, 5000).
    pub recovery_interval: Duration,
    /// How often unpaid orders past their hold are expired (`ORDER_EXPIRY_INTERVAL_MS`, 1000).
    pub expiry_interval: Duration,
    /// Orders of a cancelled event undone per round, and at once (`EVENT_CANCELLATION_BATCH`,
    /// 200; `EVENT_CANCELLATION_CONCURRENCY`, 8).
    pub cancellation_batch: i64,
    pub cancellation_concurrency: usize,
    /// New orders per buyer per minute (`ORDERS_PER_USER_PER_MINUTE`, 30; 0: no limit), in
    /// bursts of `ORDERS_PER_USER_BURST` (10).
    pub orders_per_minute: u32,
    pub orders_burst: u32,
}

impl FromEnv for Config {
    fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        let millis = |env: &Env, var: &str, default: u64| -> Result<Duration, ConfigError> {
            Ok(Duration::from_millis(env.parse_or(var, default)?.max(10)))
        };
        Ok(Self {
            ticket_signing_key: env.signing_key("TICKET_SIGNING_KEY")?,
            step_lease: Duration::from_secs(
                env.parse_or::<u64>("ORDER_STEP_LEASE_SECONDS", 60)?.max(1),
            ),
            recovery_interval: millis(env, "ORDER_RECOVERY_INTERVAL_MS", 5000)?,
            expiry_interval: millis(env, "ORDER_EXPIRY_INTERVAL_MS", 1000)?,
            cancellation_batch: env
                .parse_or::<i64>("EVENT_CANCELLATION_BATCH", 200)?
                .clamp(1, 10_000),
            cancellation_concurrency: env
                .parse_or::<usize>("EVENT_CANCELLATION_CONCURRENCY", 8)?
                .clamp(1, 64),
            orders_per_minute: env.parse_or("ORDERS_PER_USER_PER_MINUTE", 30)?,
            orders_burst: env.parse_or("ORDERS_PER_USER_BURST", 10)?,
        })
    }
}
