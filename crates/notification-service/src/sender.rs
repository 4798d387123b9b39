//! The sender: the supervised task that turns PENDING notifications into e-mails.
//!
//! The same design as the kit's outbox relay (`service_kit::messages::outbox`), for SMTP:
//!
//! 1. **Claim by lease.** One short statement takes due PENDING rows with `FOR UPDATE SKIP
//!    LOCKED`, counts their attempt and moves their `next_attempt_at` past the lease (twice the
//!    send timeout, and a margin). Another sender (another replica) skips them; no transaction,
//!    lock or connection is held while the mail server is talked to; a sender that dies mid-send
//!    leaves rows that simply fall due again.
//! 2. **Send with bounded concurrency and a timeout.** At most `concurrency` sends run at once,
//!    each a task of its own bounded by the send timeout. A slot that frees is refilled at once
//!    (rows are claimed only for free slots), so a stuck send holds one slot until its timeout,
//!    never the others or the next claim.
//! 3. **Settle.** The server accepted: SENT. A permanent refusal (a 5xx about the e-mail): FAILED
//!    with the server's reason, not retried. Anything else (4xx, no connection, TLS, timeout):
//!    PENDING again after a back-off that doubles from `first_backoff` to `max_backoff`, for as
//!    long as it takes: nothing is given up on, and the gauge of the oldest pending notification
//!    is what an alert watches.
//!
//! **The window.** An e-mail the server accepted is recorded SENT right after; if the process
//! dies (or the database is unreachable) between the two, the lease runs out and the e-mail is
//! sent again. Its `Message-ID` is derived from the notification id, so the second copy carries
//! the same one as the first: a mail client or a support person recognises it, and some servers
//! drop it. Short of the SMTP server taking part in our transaction, "at most once" and
//! "never lost" cannot both be had; this keeps "never lost" and makes the rare repeat visible.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lettre::message::Mailbox;
use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::db::notifications::{self, NotificationRow};
use crate::domain::backoff;
use crate::mail;
use crate::state::{NotificationMetrics, Outcome};
use crate::templates::Templates;
use crate::transport::{Mailer, SendError};

/// How the sender paces itself.
#[derive(Debug, Clone, Copy)]
pub struct SendPolicy {
    pub concurrency: usize,
    pub timeout: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub idle_poll: Duration,
}

impl SendPolicy {
    /// Longer than one attempt can take: the send's timeout, twice, and time to settle.
    fn lease(&self) -> Duration {
        self.timeout.saturating_mul(2) + Duration::from_secs(30)
    }
}

/// How often the pending gauges are refreshed while the sender runs.
const GAUGE_INTERVAL: Duration = Duration::from_secs(1);

/// Sends PENDING notifications. Cheap to clone (the supervisor restarts it from a clone).
#[derive(Clone)]
pub struct Sender {
    pool: PgPool,
    mailer: Mailer,
    templates: Arc<Templates>,
    from: Mailbox,
    metrics: NotificationMetrics,
    policy: SendPolicy,
}

impl Sender {
    pub fn new(
        pool: PgPool,
        mailer: Mailer,
        templates: Arc<Templates>,
        from: Mailbox,
        metrics: NotificationMetrics,
        policy: SendPolicy,
    ) -> Self {
        Self {
            pool,
            mailer,
            templates,
            from,
            metrics,
            policy,
        }
    }

    /// Sends until `stop` is cancelled, then lets the sends under way finish (each within its
    /// timeout). A claim that fails (the database went away) ends the run with its error, once
    /// the sends under way are settled, for the supervisor to count and restart.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        let mut in_flight: JoinSet<()> = JoinSet::new();
        let mut gauges_at: Option<Instant> = None;
        let result = loop {
            while in_flight.try_join_next().is_some() {}
            if stop.is_cancelled() {
                break Ok(());
            }
            if gauges_at.is_none_or(|at| at.elapsed() >= GAUGE_INTERVAL) {
                self.update_gauges().await;
                gauges_at = Some(Instant::now());
            }
            let free = self.policy.concurrency.saturating_sub(in_flight.len());
            if free == 0 {
                tokio::select! {
                    () = stop.cancelled() => break Ok(()),
                    _ = in_flight.join_next() => continue,
                }
            }
            let claimed = match notifications::claim_due(
                &self.pool,
                i64::try_from(free).unwrap_or(i64::MAX),
                self.policy.lease(),
            )
            .await
            {
                Ok(claimed) => claimed,
                Err(e) => break Err(anyhow::Error::new(e).context("claiming due notifications")),
            };
            let count = claimed.len();
            for notification in claimed {
                in_flight.spawn(self.clone().attempt(notification));
            }
            if count < free {
                // Nothing more is due now: wait a moment, or for a slot to free (its settling
                // may have made nothing due, but a message may have arrived meanwhile).
                tokio::select! {
                    () = stop.cancelled() => break Ok(()),
                    () = tokio::time::sleep(self.policy.idle_poll) => {}
                }
            }
        };
        while in_flight.join_next().await.is_some() {}
        self.update_gauges().await;
        result
    }

    /// Sends every notification that is due now, `concurrency` at a time, and returns how many
    /// it attempted: the sender's work without its loop, for tests and benchmarks.
    pub async fn send_due(&self) -> sqlx::Result<usize> {
        let mut attempted = 0;
        loop {
            let claimed = notifications::claim_due(
                &self.pool,
                i64::try_from(self.policy.concurrency).unwrap_or(i64::MAX),
                self.policy.lease(),
            )
            .await?;
            if claimed.is_empty() {
                return Ok(attempted);
            }
            attempted += claimed.len();
            let mut sends: JoinSet<()> = claimed
                .into_iter()
                .map(|n| self.clone().attempt(n))
                .collect();
            while sends.join_next().await.is_some() {}
        }
    }

    /// One attempt at one claimed notification, settled in the database.
    async fn attempt(self, notification: NotificationRow) {
        let (outcome, error) = self.try_send(&notification).await;
        self.metrics.attempted(notification.kind, outcome);
        let id = notification.id;
        let settled = match (outcome, &error) {
            (Outcome::Sent, _) => notifications::mark_sent(&self.pool, id).await,
            (Outcome::Failed, Some(reason)) => {
                tracing::error!(notification_id = %id, attempts = notification.attempts, %reason,
                    "e-mail refused for good: notification FAILED");
                notifications::mark_failed(&self.pool, id, reason).await
            }
            (_, error) => {
                let error = error.as_deref().unwrap_or("unknown");
                let wait = backoff(
                    self.policy.first_backoff,
                    self.policy.max_backoff,
                    notification.attempts,
                );
                tracing::warn!(notification_id = %id, attempts = notification.attempts, %error,
                    retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "e-mail not sent; will retry");
                notifications::defer(&self.pool, id, error, wait).await
            }
        };
        match settled {
            Ok(()) if outcome == Outcome::Sent => {
                tracing::info!(notification_id = %id, notification_type = notification.kind.as_str(),
                    attempts = notification.attempts, "e-mail sent");
            }
            Ok(()) => {}
            Err(e) => {
                // The lease runs out and the notification is attempted again: after a success,
                // that is the documented resend, with the same Message-ID.
                tracing::error!(notification_id = %id, outcome = outcome.as_str(), error = %e,
                    "the attempt's outcome could not be recorded; it will be attempted again");
            }
        }
    }

    /// Composes and sends; the outcome and, unless sent, why.
    async fn try_send(&self, notification: &NotificationRow) -> (Outcome, Option<String>) {
        let message = match mail::compose(&self.templates, &self.from, notification) {
            Ok(message) => message,
            Err(e) => return (Outcome::Failed, Some(e.to_string())),
        };
        let started = Instant::now();
        let sent = tokio::time::timeout(self.policy.timeout, self.mailer.send(message)).await;
        self.metrics.send_took(started.elapsed());
        match sent {
            Ok(Ok(())) => (Outcome::Sent, None),
            Ok(Err(SendError::Permanent(reason))) => (Outcome::Failed, Some(reason)),
            Ok(Err(SendError::Transient(reason))) => (Outcome::Retry, Some(reason)),
            Err(_) => (
                Outcome::Retry,
                Some(format!(
                    "no answer from the mail server within {} s",
                    self.policy.timeout.as_secs()
                )),
            ),
        }
    }

    async fn update_gauges(&self) {
        match notifications::pending_stats(&self.pool).await {
            Ok((count, oldest)) => self.metrics.set_pending(count, oldest),
            Err(e) => tracing::warn!(error = %e, "notification gauges not updated"),
        }
    }
}
