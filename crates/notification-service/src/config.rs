//! notification-service's own settings (the kit reads the common ones and user-service's URL).
//!
//! Where mail goes is the one setting that must not be guessed in production: without
//! `SMTP_URL`, e-mails are written as `.eml` files into `MAIL_DIR` (a development default,
//! announced by the kit's loud warning and refused with `APP_ENV=production`), so a laptop needs
//! no mail server and a production replica never silently writes its mail to a disk.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use service_kit::app::FromEnv;
use service_kit::config::{ConfigError, Env};

pub const SERVICE: &str = "notification-service";

/// Where e-mails go.
#[derive(Debug, Clone)]
pub enum Transport {
    /// An SMTP server: `smtp://host:port` (plain, or `?tls=required` for STARTTLS) or
    /// `smtps://host:port` (TLS from the first byte), with optional `user:password@`. A secret:
    /// the URL may hold credentials, so it is never logged (see [`Transport::describe`]).
    Smtp(SecretString),
    /// `.eml` files in a folder (lettre's file transport): development only.
    Files(PathBuf),
}

impl Transport {
    /// Where mail goes, fit for a log line: the scheme, host and port of the SMTP URL without
    /// its credentials, or the folder.
    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(url) => redact(url.expose_secret()),
            Self::Files(dir) => format!(".eml files in {}", dir.display()),
        }
    }
}

/// `scheme://host:port` of an SMTP URL: the user, password, path and query left out.
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("?", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    let tls = if url.contains("tls=required") {
        " (STARTTLS required)"
    } else {
        ""
    };
    format!("{scheme}://{host}{tls}")
}

#[derive(Debug, Clone)]
pub struct Config {
    pub transport: Transport,
    /// The `From` of every e-mail (`MAIL_FROM`, `tickets@localhost`): an address, or
    /// `Name <address>`.
    pub from: Mailbox,
    /// Sends under way at once (`NOTIFICATION_SEND_CONCURRENCY`, 8); also the size of the SMTP
    /// connection pool.
    pub concurrency: usize,
    /// A send that has not finished by then is abandoned and retried
    /// (`NOTIFICATION_SEND_TIMEOUT_SECONDS`, 30).
    pub send_timeout: Duration,
    /// The wait after a failed attempt: `NOTIFICATION_FIRST_BACKOFF_MS` (2000) doubled for each
    /// further failure, capped at `NOTIFICATION_MAX_BACKOFF_SECONDS` (600).
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// The sender's pause when nothing is due (`NOTIFICATION_IDLE_POLL_MS`, 500).
    pub idle_poll: Duration,
}

impl FromEnv for Config {
    fn from_env(env: &mut Env) -> Result<Self, ConfigError> {
        let transport = if let Some(url) = env.optional("SMTP_URL") {
            // Parsed now so that a bad URL stops the start, not the first e-mail. Its text is
            // never repeated: it may hold a password.
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url.trim()).map_err(|e| {
                ConfigError::Invalid {
                    var: "SMTP_URL".into(),
                    reason: format!(
                        "{e}; expected smtp://host:port, smtp://host:port?tls=required or \
                         smtps://host:port, with optional user:password@"
                    ),
                }
            })?;
            Transport::Smtp(SecretString::from(url.trim().to_owned()))
        } else {
            // The kit's development-default machinery: remembered for the loud warning, refused
            // with APP_ENV=production.
            env.string("SMTP_URL", "(none: .eml files in MAIL_DIR)")?;
            let dir = env
                .optional("MAIL_DIR")
                .unwrap_or_else(|| "log/mail".into());
            Transport::Files(PathBuf::from(dir))
        };
        let from_text = env
            .optional("MAIL_FROM")
            .unwrap_or_else(|| "tickets@localhost".into());
        let from = from_text
            .trim()
            .parse::<Mailbox>()
            .map_err(|e| ConfigError::Invalid {
                var: "MAIL_FROM".into(),
                reason: format!("not an e-mail address (`Name <address>` or `address`): {e}"),
            })?;
        Ok(Self {
            transport,
            from,
            concurrency: env
                .parse_or::<usize>("NOTIFICATION_SEND_CONCURRENCY", 8)?
                .clamp(1, 256),
            send_timeout: Duration::from_secs(
                env.parse_or::<u64>("NOTIFICATION_SEND_TIMEOUT_SECONDS", 30)?
                    .max(1),
            ),
            first_backoff: Duration::from_millis(
                env.parse_or::<u64>("NOTIFICATION_FIRST_BACKOFF_MS", 2000)?
                    .max(1),
            ),
            max_backoff: Duration::from_secs(
                env.parse_or::<u64>("NOTIFICATION_MAX_BACKOFF_SECONDS", 600)?
                    .max(1),
            ),
            idle_poll: Duration::from_millis(
                env.parse_or::<u64>("NOTIFICATION_IDLE_POLL_MS", 500)?
                    .max(5),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        test_support::env(vars.iter().copied())
    }

    #[test]
    fn without_smtp_url_mail_goes_to_files_as_a_development_default() {
        let mut env = env(&[("MAIL_DIR", "/tmp/mail")]);
        let config = Config::from_env(&mut env).unwrap();
        assert!(
            matches!(&config.transport, Transport::Files(dir) if dir == &PathBuf::from("/tmp/mail"))
        );
        assert_eq!(env.defaulted(), ["SMTP_URL"]);
        assert_eq!(config.from.email.to_string(), "tickets@localhost");
        assert_eq!(config.concurrency, 8);
        assert_eq!(config.send_timeout, Duration::from_secs(30));
        assert_eq!(config.first_backoff, Duration::from_secs(2));
        assert_eq!(config.max_backoff, Duration::from_secs(600));
    }

    #[test]
    fn production_refuses_the_file_transport() {
        let mut env = env(&[("APP_ENV", "production")]);
        let err = Config::from_env(&mut env).unwrap_err();
        assert!(matches!(err, ConfigError::DefaultInProduction { var } if var == "SMTP_URL"));
    }

    #[test]
    fn the_three_smtp_forms_are_accepted_and_described_without_credentials() {
        for (url, shown) in [
            (
                "smtp://mail.example.com:2525",
                "smtp://mail.example.com:2525",
            ),
            (
                "smtp://bob:s3cret@mail.example.com:587?tls=required",
                "smtp://mail.example.com:587 (STARTTLS required)",
            ),
            (
                "smtps://bob:s3cret@mail.example.com",
                "smtps://mail.example.com",
            ),
        ] {
            let mut env = env(&[("APP_ENV", "production"), ("SMTP_URL", url)]);
            let config = Config::from_env(&mut env).unwrap();
            assert_eq!(config.transport.describe(), shown);
            assert!(!format!("{config:?}").contains("s3cret"));
        }
    }

    #[test]
    fn a_bad_smtp_url_is_refused_without_repeating_it() {
        let mut env = env(&[("SMTP_URL", "imap://bob:s3cret@mail.example.com")]);
        let err = Config::from_env(&mut env).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("SMTP_URL"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn mail_from_may_carry_a_name_and_must_be_an_address() {
        let mut named = env(&[("MAIL_FROM", "Ticketing <tickets@example.com>")]);
        let config = Config::from_env(&mut named).unwrap();
        assert_eq!(config.from.name.as_deref(), Some("Ticketing"));
        let mut bad = env(&[("MAIL_FROM", "not an address")]);
        assert!(Config::from_env(&mut bad).is_err());
    }
}
