//! notification-service as the kit runs it: it consumes the `order.*` messages (the kit's inbox
//! at `POST /v1/messages`), calls no other service and produces no message, and runs the sender
//! task that e-mails the buyers.

use std::sync::Arc;

use anyhow::Context;
use service_kit::app::{Assembly, Identity, Kit, Service};
use service_kit::fleet;
use service_kit::tasks::Task;

use crate::Notifications;
use crate::config::{Config, Transport};
use crate::db::MIGRATIONS;
use crate::db::notifications;
use crate::mail::Composer;
use crate::messages::NotificationConsumer;
use crate::qr::QrCache;
use crate::routes;
use crate::sender::{SendPolicy, Sender};
use crate::state::{AppState, NotificationMetrics};
use crate::templates::Templates;
use crate::transport::Mailer;

/// QR codes kept drawn: a backlog of 10 000 two-ticket receipts (about 6 MiB of PNGs).
const QR_CACHE_SIZE: usize = 20_000;

impl Notifications {
    /// The sender of an assembled configuration: what the supervised task runs, and what
    /// tests and the benchmark drive by hand.
    pub fn sender(kit: &Kit<Config>, metrics: NotificationMetrics) -> anyhow::Result<Sender> {
        let config = &kit.config;
        let mailer = Mailer::new(&config.transport, config.concurrency, config.send_timeout)?;
        let composer = Composer {
            templates: Templates::load().context("the e-mail templates")?,
            from: config.from.clone(),
            qr: QrCache::new(QR_CACHE_SIZE),
        };
        Ok(Sender::new(
            kit.pool.clone(),
            mailer,
            Arc::new(composer),
            metrics,
            SendPolicy {
                concurrency: config.concurrency,
                timeout: config.send_timeout,
                first_backoff: config.first_backoff,
                max_backoff: config.max_backoff,
                idle_poll: config.idle_poll,
            },
        ))
    }
}

impl Service for Notifications {
    const WHO: Identity = Identity::new(fleet::Service::Notification, &MIGRATIONS);
    const COMMANDS: &'static str = "  notification-service notifications requeue [ID]   put FAILED notifications (or one) back to PENDING\n";

    type Config = Config;
    type State = AppState;

    async fn assemble(kit: &Kit<Config>) -> anyhow::Result<Assembly<AppState>> {
        let config = &kit.config;
        match &config.transport {
            Transport::Smtp(_) => {
                tracing::info!(to = %config.transport.describe(), from = %config.from, "mail goes to an SMTP server");
            }
            Transport::Files(dir) => {
                let shown = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
                tracing::warn!(folder = %shown.display(), from = %config.from,
                    "SMTP_URL is not set: e-mails are written as .eml files into this folder, not sent");
            }
        }
        let metrics = NotificationMetrics::register(&kit.metrics);
        let sender = Self::sender(kit, metrics)?;
        let state = AppState {
            pool: kit.pool.clone(),
        };
        Ok(Assembly::new(state.clone(), routes::router(state))
            .consumer(kit.pool.clone(), NotificationConsumer)
            .task(Task::new("notification-sender", move |stop| {
                sender.clone().run(stop)
            })))
    }

    async fn command(kit: &Kit<Config>, args: &[String]) -> anyhow::Result<()> {
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        match words.as_slice() {
            ["notifications", "requeue", rest @ ..] => {
                let id = match rest {
                    [] => None,
                    [id] => Some(id.parse().context("a notification id is a UUID")?),
                    _ => anyhow::bail!("notifications requeue takes at most one id"),
                };
                let requeued = notifications::requeue_failed(&kit.pool, id).await?;
                tracing::info!(requeued, "failed notifications put back to PENDING");
                Ok(())
            }
            _ => anyhow::bail!("unknown command `{}`", args.join(" ")),
        }
    }
}
