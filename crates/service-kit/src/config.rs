//! Configuration from environment variables.
//!
//! Every service starts with no variable set (development defaults, each announced by a loud
//! warning) and refuses to start on a development default when `APP_ENV=production`. `APP_ENV`
//! itself is strict: a typo must not quietly run production with public development secrets.

use std::fmt;
use std::str::FromStr;

use secrecy::SecretString;

/// Where the process runs (`APP_ENV`: `development`, the default, or `production`); only
/// `production` changes behaviour (no development defaults, no development secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Production,
}

/// A configuration value that is missing in production or cannot be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is not set and APP_ENV=production forbids its development default")]
    DefaultInProduction { var: String },
    #[error("{var} has an invalid value: {reason}")]
    Invalid { var: String, reason: String },
    #[error("{var} is set to its public development value, which APP_ENV=production refuses")]
    DevelopmentValueInProduction { var: String },
}

type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Reads variables from a source (the process environment, or a map in tests) and remembers
/// which ones fell back to a development default.
pub struct Env {
    lookup: Lookup,
    mode: AppEnv,
    defaulted: Vec<String>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("mode", &self.mode)
            .field("defaulted", &self.defaulted)
            .finish_non_exhaustive()
    }
}

impl Env {
    /// Reads the process environment.
    pub fn from_process() -> Result<Self, ConfigError> {
        Self::from_fn(|name| std::env::var(name).ok())
    }

    /// Reads from any lookup function; tests use this instead of mutating the process environment.
    /// Fails when `APP_ENV` is set to anything but `development` or `production` (unset or blank
    /// means development).
    pub fn from_fn(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        let mode = match lookup("APP_ENV").as_deref().map(str::trim) {
            None | Some("" | "development") => AppEnv::Development,
            Some("production") => AppEnv::Production,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    var: "APP_ENV".into(),
                    reason: format!("`{other}` is neither `development` nor `production`"),
                });
            }
        };
        Ok(Self {
            lookup: Box::new(lookup),
            mode,
            defaulted: Vec::new(),
        })
    }

    pub fn app_env(&self) -> AppEnv {
        self.mode
    }

    /// The variable's value, if set and not blank.
    pub fn optional(&self, var: &str) -> Option<String> {
        (self.lookup)(var).filter(|v| !v.trim().is_empty())
    }

    /// The variable's value, or `default` with a warning (an error in production).
    pub fn string(&mut self, var: &str, default: &str) -> Result<String, ConfigError> {
        match self.optional(var) {
            Some(value) => Ok(value),
            None => self.use_default(var).map(|()| default.to_owned()),
        }
    }

    /// Like [`Env::string`], for a value that must never be printed. The development default is
    /// public (it is in this source), so production refuses it even when it is set explicitly.
    pub fn secret(&mut self, var: &str, default: &str) -> Result<SecretString, ConfigError> {
        let value = self.string(var, default)?;
        if self.mode == AppEnv::Production && value == default {
            return Err(ConfigError::DevelopmentValueInProduction {
                var: var.to_owned(),
            });
        }
        Ok(SecretString::from(value))
    }

    /// A private key in PEM (`var`), or `None`: the service then generates one and keeps it in its
    /// database. In production that needs the operator's explicit
    /// `ALLOW_GENERATED_SIGNING_KEY=true`: a key that exists only in the database goes wherever
    /// the database's backups go, and is lost with it.
    pub fn signing_key(&self, var: &str) -> Result<Option<SecretString>, ConfigError> {
        let key = self.optional(var).map(SecretString::from);
        if key.is_none()
            && self.mode == AppEnv::Production
            && !self.parse_or("ALLOW_GENERATED_SIGNING_KEY", false)?
        {
            return Err(ConfigError::Invalid {
                var: var.to_owned(),
                reason:
                    "APP_ENV=production needs the key (PEM), or ALLOW_GENERATED_SIGNING_KEY=true \
                         to generate one and keep it only in the database"
                        .into(),
            });
        }
        Ok(key)
    }

    /// Parses the variable, or takes `default` (not a development default: allowed in production,
    /// because it is a tuning knob rather than a credential or an address).
    pub fn parse_or<T>(&self, var: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.optional(var) {
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e: T::Err| ConfigError::Invalid {
                    var: var.to_owned(),
                    reason: e.to_string(),
                }),
            None => Ok(default),
        }
    }

    /// Variables that fell back to a development default so far.
    pub fn defaulted(&self) -> &[String] {
        &self.defaulted
    }

    fn use_default(&mut self, var: &str) -> Result<(), ConfigError> {
        if self.mode == AppEnv::Production {
            return Err(ConfigError::DefaultInProduction {
                var: var.to_owned(),
            });
        }
        self.defaulted.push(var.to_owned());
        Ok(())
    }

    /// Logs one loud warning naming every variable that took a development default.
    /// Call it once telemetry is up.
    pub fn warn_about_defaults(&self, service: &str) {
        if !self.defaulted.is_empty() {
            tracing::warn!(
                service,
                variables = ?self.defaulted,
                "USING DEVELOPMENT DEFAULTS for these variables: fine on a laptop, refused with APP_ENV=production"
            );
        }
    }
}

/// The ports of the fleet (the contract's "Common rules").
pub mod ports {
    pub const USER: u16 = 8080;
    pub const CATALOG: u16 = 3002;
    pub const ORDER: u16 = 3007;
    pub const PAYMENT: u16 = 3004;
    pub const SEATING: u16 = 4000;
    pub const NOTIFICATION: u16 = 3005;
}

/// What every service reads the same way.
#[derive(Debug, Clone)]
pub struct CommonConfig {
    pub service_name: &'static str,
    pub port: u16,
    pub database_url: SecretString,
    pub log_format: crate::telemetry::LogFormat,
    pub db_max_connections: u32,
    /// Requests running longer are abandoned with 503 (`REQUEST_TIMEOUT_SECONDS`, 30).
    pub request_timeout: std::time::Duration,
    /// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`; none by default).
    pub trusted_proxies: crate::extract::TrustedProxies,
}

impl CommonConfig {
    /// `database` is the database name of the service (`users`, `catalog`, ...).
    pub fn from_env(
        env: &mut Env,
        service_name: &'static str,
        default_port: u16,
        database: &str,
    ) -> Result<Self, ConfigError> {
        let port = env.parse_or("PORT", default_port)?;
        let database_url = env.secret(
            "DATABASE_URL",
            &format!("postgres://postgres:postgres@localhost:5432/ticketing_{database}"),
        )?;
        let log_format = env.parse_or("LOG_FORMAT", crate::telemetry::LogFormat::Json)?;
        let db_max_connections = env.parse_or("DB_MAX_CONNECTIONS", 10)?;
        let request_timeout =
            std::time::Duration::from_secs(env.parse_or("REQUEST_TIMEOUT_SECONDS", 30)?);
        let trusted_proxies =
            env.parse_or("TRUSTED_PROXIES", crate::extract::TrustedProxies::default())?;
        Ok(Self {
            service_name,
            port,
            database_url,
            log_format,
            db_max_connections,
            request_timeout,
            trusted_proxies,
        })
    }
}

/// The base URL of another service: `<NAME>_SERVICE_URL`, or `http://localhost:<port>`.
pub fn service_url(env: &mut Env, var: &str, port: u16) -> Result<String, ConfigError> {
    let url = env.string(var, &format!("http://localhost:{port}"))?;
    Ok(url.trim_end_matches('/').to_owned())
}

/// The credentials a service uses to obtain its service token from user-service.
/// The development secret is the one user-service's default `SERVICE_CLIENTS` knows.
pub fn service_credentials(
    env: &mut Env,
    service_name: &str,
) -> Result<(String, SecretString), ConfigError> {
    let id = env.string("SERVICE_CLIENT_ID", service_name)?;
    let secret = env.secret(
        "SERVICE_CLIENT_SECRET",
        &development_client_secret(service_name),
    )?;
    Ok((id, secret))
}

/// The development secret of a service client; never valid in production, where
/// `SERVICE_CLIENT_SECRET` and `SERVICE_CLIENTS` must be set.
pub fn development_client_secret(service_name: &str) -> String {
    format!("dev-secret-{service_name}")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Env::from_fn(move |k| map.get(k).cloned()).unwrap()
    }

    #[test]
    fn app_env_accepts_only_known_values() {
        for (value, mode) in [
            ("production", AppEnv::Production),
            ("development", AppEnv::Development),
            ("", AppEnv::Development),
        ] {
            assert_eq!(env(&[("APP_ENV", value)]).app_env(), mode);
        }
        assert_eq!(env(&[]).app_env(), AppEnv::Development);
        for typo in ["prod", "Production", "staging"] {
            let err = Env::from_fn(move |k| (k == "APP_ENV").then(|| typo.to_owned())).unwrap_err();
            assert!(
                matches!(err, ConfigError::Invalid { ref var, .. } if var == "APP_ENV"),
                "{typo}"
            );
        }
    }

    #[test]
    fn production_refuses_a_development_secret_even_when_set() {
        let secret = development_client_secret("seating-service");
        let mut production = env(&[
            ("APP_ENV", "production"),
            ("SERVICE_CLIENT_ID", "seating-service"),
            ("SERVICE_CLIENT_SECRET", &secret),
        ]);
        let err = service_credentials(&mut production, "seating-service").unwrap_err();
        assert!(
            matches!(err, ConfigError::DevelopmentValueInProduction { var } if var == "SERVICE_CLIENT_SECRET")
        );
        let mut development = env(&[("SERVICE_CLIENT_SECRET", &secret)]);
        assert!(service_credentials(&mut development, "seating-service").is_ok());
    }

    #[test]
    fn production_needs_a_signing_key_or_an_explicit_opt_in() {
        let err = env(&[("APP_ENV", "production")])
            .signing_key("JWT_SIGNING_KEY")
            .unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { var, .. } if var == "JWT_SIGNING_KEY"));
        let opted_in = env(&[
            ("APP_ENV", "production"),
            ("ALLOW_GENERATED_SIGNING_KEY", "true"),
        ]);
        assert!(opted_in.signing_key("JWT_SIGNING_KEY").unwrap().is_none());
        let given = env(&[("APP_ENV", "production"), ("JWT_SIGNING_KEY", "-----BEGIN")]);
        assert!(given.signing_key("JWT_SIGNING_KEY").unwrap().is_some());
        assert!(env(&[]).signing_key("JWT_SIGNING_KEY").unwrap().is_none());
    }

    #[test]
    fn development_defaults_are_used_and_remembered() {
        let mut env = env(&[]);
        let config = CommonConfig::from_env(&mut env, "user-service", 8080, "users").unwrap();
        assert_eq!(config.port, 8080);
        assert_eq!(
            config.database_url.expose_secret(),
            "postgres://postgres:postgres@localhost:5432/ticketing_users"
        );
        assert_eq!(env.defaulted(), ["DATABASE_URL"]);
    }

    #[test]
    fn production_refuses_a_development_default() {
        let mut env = env(&[("APP_ENV", "production")]);
        let err = CommonConfig::from_env(&mut env, "user-service", 8080, "users").unwrap_err();
        assert!(matches!(err, ConfigError::DefaultInProduction { var } if var == "DATABASE_URL"));
    }

    #[test]
    fn production_accepts_explicit_values() {
        let mut env = env(&[
            ("APP_ENV", "production"),
            ("DATABASE_URL", "postgres://db/x"),
        ]);
        assert!(CommonConfig::from_env(&mut env, "user-service", 8080, "users").is_ok());
    }

    #[test]
    fn an_unparsable_value_is_an_error_not_a_default() {
        let mut env = env(&[("PORT", "eighty")]);
        let err = CommonConfig::from_env(&mut env, "user-service", 8080, "users").unwrap_err();
        assert!(matches!(err, ConfigError::Invalid { var, .. } if var == "PORT"));
    }

    #[test]
    fn a_secret_does_not_show_in_debug_output() {
        let mut env = env(&[("SERVICE_CLIENT_SECRET", "hunter2-hunter2")]);
        let (_, secret) = service_credentials(&mut env, "seating-service").unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
    }
}
