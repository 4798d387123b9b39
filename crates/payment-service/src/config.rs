//! payment-service's own settings (the kit reads the common ones and the fleet's URLs).

use std::time::Duration;

use secrecy::SecretString;
use service_kit::app::FromEnv;
use service_kit::config::{ConfigError, Env};

pub const SERVICE: &str = "payment-service";

/// Stripe's public API; overridable (`STRIPE_API_BASE`) for a mock or a proxy.
pub const DEFAULT_STRIPE_API_BASE: &str = "https://api.stripe.com";

#[derive(Debug, Clone)]
pub struct Config {
    pub gateway: GatewayConfig,
    pub reconcile: ReconcilePolicy,
}

/// How the reconciler settles the charges and refunds whose gateway answer never came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconcilePolicy {
    /// A PENDING charge or refund whose last gateway call is older than this is asked about, and
    /// a claim holds this long (`PAYMENT_RECONCILE_AFTER_SECONDS`, 60). Must exceed the longest a
    /// request may run (`REQUEST_TIMEOUT_SECONDS`), so that no live attempt is still at the
    /// gateway when the reconciler asks: start-up refuses it otherwise.
    pub after: Duration,
    /// How often a round runs (`PAYMENT_RECONCILE_INTERVAL_MS`, 10 000).
    pub interval: Duration,
    /// Items claimed per statement (`PAYMENT_RECONCILE_BATCH`, 100); a round claims batch after
    /// batch until none is left.
    pub batch: i64,
}

impl ReconcilePolicy {
    fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            after: Duration::from_secs(
                env.parse_or::<u64>("PAYMENT_RECONCILE_AFTER_SECONDS", 60)?
                    .max(1),
            ),
            interval: Duration::from_millis(
                env.parse_or::<u64>("PAYMENT_RECONCILE_INTERVAL_MS", 10_000)?
                    .max(10),
            ),
            batch: env
                .parse_or::<i64>("PAYMENT_RECONCILE_BATCH", 100)?
                .clamp(1, 1000),
        })
    }
}

/// Which gateway takes the money (`PAYMENT_GATEWAY`).
#[derive(Debug, Clone)]
pub enum GatewayConfig {
    /// Deterministic outcomes from test tokens; no money moves.
    Simulated {
        /// Artificial delay of every gateway call (`SIMULATED_GATEWAY_LATENCY_MS`, 0).
        latency: Duration,
    },
    Stripe {
        api_key: SecretString,
        api_base: String,
    },
}

impl FromEnv for Config {
    fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        Ok(Self {
            gateway: GatewayConfig::from_env(env)?,
            reconcile: ReconcilePolicy::from_env(env)?,
        })
    }
}

impl GatewayConfig {
    fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        // A development default: production must choose its gateway explicitly, so that a
        // forgotten variable never runs a shop on the simulated gateway.
        let kind = env.string("PAYMENT_GATEWAY", "simulated")?;
        match kind.trim().to_ascii_lowercase().as_str() {
            "simulated" => Ok(Self::Simulated {
                latency: Duration::from_millis(env.parse_or("SIMULATED_GATEWAY_LATENCY_MS", 0)?),
            }),
            "stripe" => {
                let api_key = env
                    .optional("STRIPE_API_KEY")
                    .map(SecretString::from)
                    .ok_or_else(|| ConfigError::Invalid {
                        var: "STRIPE_API_KEY".into(),
                        reason: "required when PAYMENT_GATEWAY=stripe".into(),
                    })?;
                let api_base = env.optional("STRIPE_API_BASE").map_or_else(
                    || DEFAULT_STRIPE_API_BASE.to_owned(),
                    |base| base.trim().trim_end_matches('/').to_owned(),
                );
                Ok(Self::Stripe { api_key, api_base })
            }
            other => Err(ConfigError::Invalid {
                var: "PAYMENT_GATEWAY".into(),
                reason: format!("expected `simulated` or `stripe`, got `{other}`"),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        test_support::env(vars.iter().copied())
    }

    #[test]
    fn the_simulated_gateway_is_the_development_default() {
        let mut env = env(&[]);
        let config = Config::from_env(&mut env).unwrap();
        assert!(matches!(
            config.gateway,
            GatewayConfig::Simulated { latency } if latency == Duration::ZERO
        ));
        assert!(env.defaulted().contains(&"PAYMENT_GATEWAY".to_owned()));
    }

    #[test]
    fn the_simulated_latency_is_configurable() {
        let mut env = env(&[("SIMULATED_GATEWAY_LATENCY_MS", "250")]);
        let config = Config::from_env(&mut env).unwrap();
        assert!(matches!(
            config.gateway,
            GatewayConfig::Simulated { latency } if latency == Duration::from_millis(250)
        ));
    }

    #[test]
    fn stripe_needs_an_api_key() {
        let mut env = env(&[("PAYMENT_GATEWAY", "stripe")]);
        let err = Config::from_env(&mut env).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { var, .. } if var == "STRIPE_API_KEY"));
    }

    #[test]
    fn stripe_takes_its_key_and_base() {
        let mut env = env(&[
            ("PAYMENT_GATEWAY", "stripe"),
            ("STRIPE_API_KEY", "sk_test_abc"),
            ("STRIPE_API_BASE", "http://localhost:12111/"),
        ]);
        let config = Config::from_env(&mut env).unwrap();
        let GatewayConfig::Stripe { api_key, api_base } = config.gateway else {
            panic!("expected the Stripe gateway");
        };
        assert_eq!(api_key.expose_secret(), "sk_test_abc");
        assert_eq!(api_base, "http://localhost:12111");
        assert!(!format!("{api_key:?}").contains("sk_test_abc"));
    }

    #[test]
    fn stripe_defaults_to_its_public_api() {
        let mut env = env(&[("PAYMENT_GATEWAY", "stripe"), ("STRIPE_API_KEY", "sk_x")]);
        let config = Config::from_env(&mut env).unwrap();
        assert!(matches!(
            config.gateway,
            GatewayConfig::Stripe { api_base, .. } if api_base == DEFAULT_STRIPE_API_BASE
        ));
    }

    #[test]
    fn the_reconciler_asks_after_a_minute_every_ten_seconds_by_default() {
        let config = Config::from_env(&mut env(&[])).unwrap();
        assert_eq!(
            config.reconcile,
            ReconcilePolicy {
                after: Duration::from_secs(60),
                interval: Duration::from_secs(10),
                batch: 100,
            }
        );
        let config = Config::from_env(&mut env(&[
            ("PAYMENT_RECONCILE_AFTER_SECONDS", "120"),
            ("PAYMENT_RECONCILE_INTERVAL_MS", "500"),
            ("PAYMENT_RECONCILE_BATCH", "5000"),
        ]))
        .unwrap();
        assert_eq!(config.reconcile.after, Duration::from_secs(120));
        assert_eq!(config.reconcile.interval, Duration::from_millis(500));
        assert_eq!(config.reconcile.batch, 1000, "bounded");
        let err =
            Config::from_env(&mut env(&[("PAYMENT_RECONCILE_AFTER_SECONDS", "soon")])).unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { var, .. } if var == "PAYMENT_RECONCILE_AFTER_SECONDS")
        );
    }

    #[test]
    fn an_unknown_gateway_is_refused() {
        let mut env = env(&[("PAYMENT_GATEWAY", "paypal")]);
        let err = Config::from_env(&mut env).unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { var, .. } if var == "PAYMENT_GATEWAY"));
    }

    #[test]
    fn production_must_name_its_gateway() {
        let mut env = env(&[
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://db/payments"),
            ("USER_SERVICE_URL", "http://user-service:8080"),
        ]);
        let err = Config::from_env(&mut env).unwrap_err();
        assert!(
            matches!(err, ConfigError::DefaultInProduction { var } if var == "PAYMENT_GATEWAY")
        );
    }
}
