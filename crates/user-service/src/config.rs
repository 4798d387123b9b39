//! user-service's own settings (the kit reads the common ones).

use std::time::Duration;

use secrecy::ExposeSecret;
use secrecy::SecretString;
use service_kit::app::FromEnv;
use service_kit::config::{AppEnv, ConfigError, Env, development_client_secret};

pub const SERVICE: &str = "user-service";

/// The clients that may obtain service tokens by default: the other five services.
const DEVELOPMENT_CLIENTS: [&str; 5] = [
    "catalog-service",
    "seating-service",
    "order-service",
    "payment-service",
    "notification-service",
];

#[derive(Debug, Clone)]
pub struct Config {
    /// Ed25519 private key (PKCS#8 PEM); when absent, one is generated once and kept in the
    /// database.
    pub signing_key_pem: Option<SecretString>,
    pub service_clients: Vec<ServiceClient>,
    pub admin: Option<AdminBootstrap>,
    pub throttle: Throttle,
    /// Registrations per client address: `REGISTRATIONS_PER_ADDRESS_PER_MINUTE` (20; 0 turns
    /// the limit off) with bursts of `REGISTRATIONS_PER_ADDRESS_BURST` (10).
    pub registrations_per_minute: u32,
    pub registrations_burst: u32,
}

#[derive(Debug, Clone)]
pub struct ServiceClient {
    pub id: String,
    pub secret: SecretString,
}

impl ServiceClient {
    /// Whether its secret is one of the public development secrets (of any client).
    fn has_development_secret(&self) -> bool {
        DEVELOPMENT_CLIENTS
            .iter()
            .any(|id| self.secret.expose_secret() == development_client_secret(id))
    }
}

#[derive(Debug, Clone)]
pub struct AdminBootstrap {
    pub email: String,
    pub password: SecretString,
    /// `ADMIN_PROMOTE_EXISTING`: an existing non-admin account of that e-mail may be promoted.
    pub promote_existing: bool,
}

/// Login throttling: this many failures within `window` block further attempts.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub max_failures_per_email: i64,
    pub max_failures_per_address: i64,
    pub window: Duration,
}

impl FromEnv for Config {
    fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        let signing_key_pem = env.signing_key("JWT_SIGNING_KEY")?;
        let default_clients = DEVELOPMENT_CLIENTS
            .iter()
            .map(|id| format!("{id}:{}", development_client_secret(id)))
            .collect::<Vec<_>>()
            .join(",");
        let service_clients = parse_clients(&env.string("SERVICE_CLIENTS", &default_clients)?)?;
        if env.app_env() == AppEnv::Production
            && service_clients
                .iter()
                .any(ServiceClient::has_development_secret)
        {
            return Err(ConfigError::DevelopmentValueInProduction {
                var: "SERVICE_CLIENTS".into(),
            });
        }
        let admin = match (env.optional("ADMIN_EMAIL"), env.optional("ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some(AdminBootstrap {
                email,
                password: SecretString::from(password),
                promote_existing: env.parse_or("ADMIN_PROMOTE_EXISTING", false)?,
            }),
            (None, None) => None,
            _ => {
                return Err(ConfigError::Invalid {
                    var: "ADMIN_EMAIL".into(),
                    reason: "ADMIN_EMAIL and ADMIN_PASSWORD go together: set both or neither"
                        .into(),
                });
            }
        };
        let throttle = Throttle {
            max_failures_per_email: env.parse_or("LOGIN_MAX_FAILURES_PER_EMAIL", 5)?,
            max_failures_per_address: env.parse_or("LOGIN_MAX_FAILURES_PER_ADDRESS", 20)?,
            window: Duration::from_secs(env.parse_or("LOGIN_THROTTLE_WINDOW_SECONDS", 900)?),
        };
        Ok(Self {
            signing_key_pem,
            service_clients,
            admin,
            throttle,
            registrations_per_minute: env.parse_or("REGISTRATIONS_PER_ADDRESS_PER_MINUTE", 20)?,
            registrations_burst: env.parse_or("REGISTRATIONS_PER_ADDRESS_BURST", 10)?,
        })
    }
}

/// `id:secret,id:secret`.
fn parse_clients(raw: &str) -> Result<Vec<ServiceClient>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once(':') {
            Some((id, secret)) if !id.is_empty() && !secret.is_empty() => Ok(ServiceClient {
                id: id.to_owned(),
                secret: SecretString::from(secret.to_owned()),
            }),
            _ => Err(ConfigError::Invalid {
                var: "SERVICE_CLIENTS".into(),
                reason: "expected `id:secret` pairs separated by commas".into(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_clients_are_the_five_other_services() {
        let mut env = Env::from_fn(|_| None).unwrap();
        let config = Config::from_env(&mut env).unwrap();
        let ids: Vec<_> = config
            .service_clients
            .iter()
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(ids, DEVELOPMENT_CLIENTS);
        assert!(env.defaulted().contains(&"SERVICE_CLIENTS".to_owned()));
    }

    #[test]
    fn admin_email_without_password_is_refused() {
        let mut env =
            Env::from_fn(|k| (k == "ADMIN_EMAIL").then(|| "boss@example.com".to_owned())).unwrap();
        assert!(Config::from_env(&mut env).is_err());
    }

    #[test]
    fn production_refuses_the_development_clients_even_when_set() {
        let development = format!(
            "ops:a-real-secret,seating-service:{}",
            development_client_secret("seating-service")
        );
        let mut env = Env::from_fn(move |k| match k {
            "APP_ENV" => Some("production".to_owned()),
            "SERVICE_CLIENTS" => Some(development.clone()),
            "JWT_SIGNING_KEY" => Some("pem".to_owned()),
            _ => None,
        })
        .unwrap();
        let err = Config::from_env(&mut env).unwrap_err();
        assert!(
            matches!(err, ConfigError::DevelopmentValueInProduction { var } if var == "SERVICE_CLIENTS")
        );
    }

    #[test]
    fn clients_parse_from_pairs() {
        let clients = parse_clients("a:one, b:two").unwrap();
        assert_eq!(clients[1].id, "b");
        assert_eq!(clients[1].secret.expose_secret(), "two");
        assert!(parse_clients("no-secret").is_err());
        assert!(parse_clients("a:").is_err());
    }
}
