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
