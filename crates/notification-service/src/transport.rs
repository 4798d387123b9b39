//! Where e-mails go: an SMTP server through lettre's pooled async transport, or, in
//! development, `.eml` files in a folder (lettre's file transport). And what a failed send means:
//! try again later, or give up.

use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::Transport;

/// Sends e-mails. Cheap to clone (the SMTP pool is shared).
#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // lettre's own Debug would show the server's parameters; nothing here needs them.
        f.write_str(match self {
            Self::Smtp(_) => "Mailer::Smtp",
            Self::Files(_) => "Mailer::Files",
        })
    }
}

/// Why a send did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// The server refused this e-mail for good (a 5xx reply about the message or its
    /// recipient): sending it again would be refused again.
    Permanent(String),
    /// The server answered, but not yes: a 4xx reply (or a 5xx about our credentials), or a
    /// disk that is full for `.eml` files. The send is tried again after a back-off.
    Transient(String),
    /// No answer at all: no connection, a TLS or network failure. The server is down or
    /// unreachable for every e-mail alike; tried again after a back-off, and the sender pauses.
    Unreachable(String),
}

impl SendError {
    pub fn reason(&self) -> &str {
        match self {
            Self::Permanent(reason) | Self::Transient(reason) | Self::Unreachable(reason) => reason,
        }
    }
}

/// 5xx replies that say our side is misconfigured (authentication required, too weak, refused,
/// or needs encryption) rather than that this e-mail is unwanted: every e-mail would get them,
/// so they are retried (and logged loudly) instead of failing the whole backlog for good.
const CONFIGURATION_CODES: [&str; 4] = ["530", "534", "535", "538"];

impl Mailer {
    /// The transport of the configuration: for SMTP a pool of up to `connections` connections,
    /// each socket operation bounded by `timeout`; for files, the folder (created when missing).
    pub fn new(
        transport: &Transport,
        connections: usize,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        match transport {
            Transport::Smtp(url) => {
                let pool = PoolConfig::new()
                    .max_size(u32::try_from(connections).unwrap_or(u32::MAX))
                    .idle_timeout(Duration::from_secs(60));
                let smtp = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|e| anyhow::anyhow!("SMTP_URL: {e}"))?
                    .timeout(Some(timeout))
                    .pool_config(pool)
                    .build();
                Ok(Self::Smtp(smtp))
            }
            Transport::Files(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    anyhow::anyhow!("MAIL_DIR {} cannot be created: {e}", dir.display())
                })?;
                Ok(Self::Files(AsyncFileTransport::<Tokio1Executor>::new(dir)))
            }
        }
    }

    /// Hands `message` to the server (or writes its file).
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Self::Smtp(smtp) => smtp.send(message).await.map(drop).map_err(|e| classify(&e)),
            Self::Files(files) => files
                .send(message)
                .await
                .map(drop)
                .map_err(|e| SendError::Transient(format!("writing the .eml file failed: {e}"))),
        }
    }
}

/// Permanent for a 5xx reply about the e-mail; transient for any other reply; unreachable when
/// there was no reply at all.
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let server_said = std::error::Error::source(error).map(ToString::to_string);
    match error.status() {
        Some(code) => {
            let code = code.to_string();
            let reason = match server_said {
                Some(text) if !text.is_empty() => format!("{code} {text}"),
                _ => code.clone(),
            };
            if error.is_permanent() && !CONFIGURATION_CODES.contains(&code.as_str()) {
                SendError::Permanent(reason)
            } else {
                SendError::Transient(reason)
            }
        }
        None if error.is_timeout() || error.is_response() || error.is_client() => {
            SendError::Transient(error.to_string())
        }
        None => SendError::Unreachable(error.to_string()),
    }
}
