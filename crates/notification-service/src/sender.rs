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
//! **An unreachable server pauses the sender.** One SMTP server stands for every e-mail: when a
//! send finds it unreachable (no connection, TLS or network failure), the sender stops claiming
//! and, after a pause that doubles from `first_backoff` to [`MAX_PAUSE`] (or `max_backoff` when
//! smaller), sends one e-mail as a
//! probe; the first answer from the server resumes full concurrency. An outage therefore costs a
//! probe now and then rather than a failed attempt (and its CPU and writes) per e-mail per
//! back-off, and the backlog starts to drain within [`MAX_PAUSE`] of the server's return, not
//! when each e-mail's own back-off (up to ten minutes) runs out.
//!
//! **The window.** An e-mail the server accepted is recorded SENT right after; if the process
//! dies (or the database is unreachable) between the two, the lease runs out and the e-mail is
//! sent again. Its `Message-ID` is derived from the notification id, so the second copy carries
//! the same one as the first: a mail client or a support person recognises it, and some servers
//! drop it. Short of the SMTP server taking part in our transaction, "at most once" and
//! "never lost" cannot both be had; this keeps "never lost" and makes the rare repeat visible.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::db::notifications::{self, NotificationRow};
use crate::domain::backoff;
use crate::mail::Composer;
use crate::state::{NotificationMetrics, Outcome};
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

/// The longest pause between two probes of an unreachable mail server.
pub const MAX_PAUSE: Duration = Duration::from_secs(30);

/// What an attempt learnt about the mail server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// It answered (yes or no).
    Answered,
    /// No connection, or it broke.
    Unreachable,
    /// No answer within the timeout: that one send's trouble, or the server's.
    Silent,
    /// It was not contacted (the e-mail could not be composed).
    NotTried,
}

/// The mail server's reachability, as the sends find it: closed (send freely), paused after an
/// unreachable server, or probing with one e-mail.
#[derive(Debug)]
struct Breaker {
    first: Duration,
    max: Duration,
    state: std::sync::Mutex<BreakerState>,
}

#[derive(Debug, Default)]
struct BreakerState {
    /// While set, the server was found unreachable: no claims until then, then one probe.
    paused_until: Option<Instant>,
    pause: Duration,
    probing: bool,
}

/// How many rows the loop may claim now.
enum Allowance {
    Claim(usize),
    /// Paused (or a probe is out): look again after this long.
    Wait(Duration),
}

impl Breaker {
    /// Pauses from `first` doubling to `max` (at most [`MAX_PAUSE`]).
    fn new(first: Duration, max: Duration) -> Self {
        let max = max.min(MAX_PAUSE);
        Self {
            first: first.min(max),
            max,
            state: std::sync::Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn allowance(&self, free: usize) -> Allowance {
        let mut state = self.lock();
        match state.paused_until {
            None => Allowance::Claim(free),
            Some(_) if state.probing => Allowance::Wait(Duration::from_millis(50)),
            Some(until) => {
                let now = Instant::now();
                if until > now {
                    Allowance::Wait(until - now)
                } else {
                    state.probing = true;
                    Allowance::Claim(free.min(1))
                }
            }
        }
    }

    /// The probe found nothing to send: the next round probes again.
    fn no_probe(&self) {
        self.lock().probing = false;
    }

    fn learnt(&self, reach: Reach) {
        let mut state = self.lock();
        let reopen = match reach {
            Reach::Answered => {
                if state.paused_until.is_some() {
                    tracing::info!("the mail server answers again: sending resumes");
                }
                *state = BreakerState::default();
                false
            }
            Reach::Unreachable => true,
            Reach::Silent => state.probing,
            Reach::NotTried => {
                state.probing = false;
                false
            }
        };
        if reopen && (state.paused_until.is_none() || state.probing) {
            state.pause = if state.paused_until.is_none() {
                self.first
            } else {
                state.pause.saturating_mul(2).min(self.max)
            };
            state.paused_until = Some(Instant::now() + state.pause);
            state.probing = false;
            tracing::warn!(
                pause_ms = u64::try_from(state.pause.as_millis()).unwrap_or(u64::MAX),
                "the mail server is unreachable: sending paused, then one e-mail probes it"
            );
        }
    }
}

/// Sends PENDING notifications. Cheap to clone (the supervisor restarts it from a clone).
#[derive(Clone)]
pub struct Sender {
    pool: PgPool,
    mailer: Mailer,
    composer: Arc<Composer>,
    metrics: NotificationMetrics,
    policy: SendPolicy,
    breaker: Arc<Breaker>,
}

impl Sender {
    pub fn new(
        pool: PgPool,
        mailer: Mailer,
        composer: Arc<Composer>,
        metrics: NotificationMetrics,
        policy: SendPolicy,
    ) -> Self {
        Self {
            pool,
            mailer,
            composer,
            metrics,
            breaker: Arc::new(Breaker::new(policy.first_backoff, policy.max_backoff)),
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
            let wanted = match self.breaker.allowance(free) {
                Allowance::Claim(wanted) => wanted,
                Allowance::Wait(wait) => {
                    tokio::select! {
                        () = stop.cancelled() => break Ok(()),
                        () = tokio::time::sleep(wait.min(GAUGE_INTERVAL)) => continue,
                    }
                }
            };
            let claimed = match notifications::claim_due(
                &self.pool,
                i64::try_from(wanted).unwrap_or(i64::MAX),
                self.policy.lease(),
            )
            .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    self.breaker.no_probe();
                    break Err(anyhow::Error::new(e).context("claiming due notifications"));
                }
            };
            let count = claimed.len();
            if count == 0 {
                self.breaker.no_probe();
            }
            for notification in claimed {
                in_flight.spawn(self.clone().attempt(notification));
            }
            if count < wanted {
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

    /// One attempt at one claimed notification, settled in the database.
    async fn attempt(self, notification: NotificationRow) {
        let (outcome, error, reach) = self.try_send(&notification).await;
        self.breaker.learnt(reach);
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

    /// Composes (on the blocking pool: templates and QR codes are CPU work) and sends; the
    /// outcome, unless sent why, and what it learnt about the server.
    async fn try_send(&self, notification: &NotificationRow) -> (Outcome, Option<String>, Reach) {
        let composer = self.composer.clone();
        let row = notification.clone();
        let composed =
            service_kit::telemetry::spawn_blocking_in_span(move || composer.compose(&row)).await;
        let message = match composed {
            Ok(Ok(message)) => message,
            Ok(Err(e)) => return (Outcome::Failed, Some(e.to_string()), Reach::NotTried),
            // A bug: not the notification's fault, so it is tried again.
            Err(panic) => {
                return (
                    Outcome::Retry,
                    Some(format!("composing the e-mail panicked: {panic}")),
                    Reach::NotTried,
                );
            }
        };
        let started = Instant::now();
        let sent = tokio::time::timeout(self.policy.timeout, self.mailer.send(message)).await;
        self.metrics.send_took(started.elapsed());
        match sent {
            Ok(Ok(())) => (Outcome::Sent, None, Reach::Answered),
            Ok(Err(SendError::Permanent(reason))) => {
                (Outcome::Failed, Some(reason), Reach::Answered)
            }
            Ok(Err(SendError::Transient(reason))) => {
                (Outcome::Retry, Some(reason), Reach::Answered)
            }
            Ok(Err(SendError::Unreachable(reason))) => {
                (Outcome::Retry, Some(reason), Reach::Unreachable)
            }
            Err(_) => (
                Outcome::Retry,
                Some(format!(
                    "no answer from the mail server within {} s",
                    self.policy.timeout.as_secs()
                )),
                Reach::Silent,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(breaker: &Breaker, free: usize) -> Option<usize> {
        match breaker.allowance(free) {
            Allowance::Claim(n) => Some(n),
            Allowance::Wait(_) => None,
        }
    }

    #[test]
    fn an_unreachable_server_pauses_claims_then_one_probe_at_a_time_until_it_answers() {
        let breaker = Breaker::new(Duration::from_millis(20), Duration::from_secs(600));
        assert_eq!(claims(&breaker, 8), Some(8));
        breaker.learnt(Reach::Unreachable);
        assert_eq!(claims(&breaker, 8), None, "paused");
        // A send claimed before the pause that fails too does not stretch it.
        breaker.learnt(Reach::Unreachable);
        assert_eq!(breaker.lock().pause, Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(25));
        assert_eq!(claims(&breaker, 8), Some(1), "one probe");
        assert_eq!(claims(&breaker, 8), None, "while the probe is out");
        breaker.learnt(Reach::Unreachable);
        assert_eq!(breaker.lock().pause, Duration::from_millis(40), "doubled");
        std::thread::sleep(Duration::from_millis(45));
        assert_eq!(claims(&breaker, 8), Some(1));
        breaker.learnt(Reach::Answered);
        assert_eq!(claims(&breaker, 8), Some(8), "closed again");
    }

    #[test]
    fn a_send_that_times_out_pauses_nothing_unless_it_was_the_probe() {
        let breaker = Breaker::new(Duration::from_millis(10), Duration::from_secs(1));
        breaker.learnt(Reach::Silent);
        assert_eq!(claims(&breaker, 4), Some(4));
        breaker.learnt(Reach::Unreachable);
        std::thread::sleep(Duration::from_millis(15));
        assert_eq!(claims(&breaker, 4), Some(1));
        breaker.learnt(Reach::Silent);
        assert_eq!(
            claims(&breaker, 4),
            None,
            "the probe got no answer: paused again"
        );
    }

    #[test]
    fn a_probe_that_found_nothing_to_send_lets_the_next_round_probe() {
        let breaker = Breaker::new(Duration::from_millis(1), Duration::from_secs(1));
        breaker.learnt(Reach::Unreachable);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(claims(&breaker, 4), Some(1));
        breaker.no_probe();
        assert_eq!(claims(&breaker, 4), Some(1));
        breaker.learnt(Reach::NotTried);
        assert_eq!(claims(&breaker, 4), Some(1));
    }
}
