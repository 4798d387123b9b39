//! The producer side: the outbox and its relay.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use prometheus::{Gauge, IntCounter, IntGauge};
use secrecy::ExposeSecret;
use sqlx::{PgConnection, PgPool};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::{Envelope, Message, consumers_of};
use crate::auth::service_token::ServiceTokenSource;
use crate::fleet::Service;
use crate::metrics::Metrics;

/// Writes `message` for every consumer of its type. Call it inside the transaction of the change
/// it reports: the message exists if and only if the change committed.
pub async fn enqueue<M: Message>(
    conn: &mut PgConnection,
    source: &str,
    message: &M,
) -> sqlx::Result<Uuid> {
    let envelope = Envelope {
        id: Uuid::now_v7(),
        message_type: M::TYPE.to_owned(),
        occurred_at: Utc::now(),
        source: source.to_owned(),
        data: serde_json::to_value(message).map_err(|e| sqlx::Error::Encode(Box::new(e)))?,
    };
    let names: Vec<&str> = consumers_of(M::TYPE).iter().map(|s| s.name()).collect();
    // One statement for the message and its deliveries: a round trip fewer in every producer's
    // transaction.
    sqlx::query(
        "WITH message AS (
             INSERT INTO outbox (id, type, aggregate_id, envelope) VALUES ($1, $2, $3, $4)
             RETURNING id)
         INSERT INTO outbox_deliveries (message_id, subscriber)
         SELECT message.id, subscriber FROM message, unnest($5::text[]) AS subscriber",
    )
    .bind(envelope.id)
    .bind(M::TYPE)
    .bind(message.aggregate_id())
    .bind(sqlx::types::Json(&envelope))
    .bind(&names)
    .execute(&mut *conn)
    .await?;
    Ok(envelope.id)
}

/// Puts parked (dead) deliveries back in the queue: all of them, or those of one message.
pub async fn requeue_dead(pool: &PgPool, message_id: Option<Uuid>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "UPDATE outbox_deliveries
         SET dead_at = NULL, attempts = 0, first_attempt_at = NULL, next_attempt_at = now(),
             last_error = NULL
         WHERE dead_at IS NOT NULL AND ($1::uuid IS NULL OR message_id = $1)",
    )
    .bind(message_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// How the relay paces itself.
#[derive(Debug, Clone, Copy)]
pub struct RelayPolicy {
    /// Deliveries claimed per round.
    pub batch: i64,
    /// Pause when there was nothing to do.
    pub idle_poll: Duration,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// A delivery whose attempts span this long is parked as dead.
    pub dead_after: Duration,
    pub request_timeout: Duration,
}

impl Default for RelayPolicy {
    fn default() -> Self {
        Self {
            batch: 50,
            idle_poll: Duration::from_millis(500),
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            dead_after: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl RelayPolicy {
    /// Reads `OUTBOX_FIRST_BACKOFF_MS`, `OUTBOX_MAX_BACKOFF_SECONDS` and
    /// `OUTBOX_DEAD_AFTER_SECONDS` (tuning, not secrets).
    pub fn from_env(env: &crate::config::Env) -> Result<Self, crate::config::ConfigError> {
        let default = Self::default();
        Ok(Self {
            first_backoff: Duration::from_millis(env.parse_or(
                "OUTBOX_FIRST_BACKOFF_MS",
                u64::try_from(default.first_backoff.as_millis()).unwrap_or(1000),
            )?),
            dead_after: Duration::from_secs(
                env.parse_or("OUTBOX_DEAD_AFTER_SECONDS", default.dead_after.as_secs())?,
            ),
            max_backoff: Duration::from_secs(
                env.parse_or("OUTBOX_MAX_BACKOFF_SECONDS", default.max_backoff.as_secs())?,
            ),
            ..default
        })
    }

    fn backoff(&self, attempts: i32) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(20);
        let delay = self
            .first_backoff
            .saturating_mul(2u32.saturating_pow(exponent));
        delay.min(self.max_backoff)
    }
}

/// The outbox's metrics.
#[derive(Clone)]
pub struct OutboxMetrics {
    pending: IntGauge,
    oldest_pending_age: Gauge,
    failures: IntCounter,
    dead: IntCounter,
    parked: IntGauge,
}

impl OutboxMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        Self {
            pending: metrics.gauge("outbox_pending", "Deliveries waiting to be made"),
            oldest_pending_age: metrics.float_gauge(
                "outbox_oldest_pending_age_seconds",
                "Age of the oldest undelivered message",
            ),
            failures: metrics.counter(
                "outbox_delivery_failures_total",
                "Delivery attempts that failed (to be retried)",
            ),
            dead: metrics.counter(
                "outbox_dead_total",
                "Deliveries parked as dead after a day of failures",
            ),
            parked: metrics.gauge(
                "outbox_dead",
                "Deliveries parked as dead right now (re-queue with `outbox requeue`)",
            ),
        }
    }
}

/// Delivers outbox messages to their subscribers. Several replicas may run one each: rows are
/// claimed with `FOR UPDATE SKIP LOCKED`. Cheap to clone (the supervisor restarts it from a
/// clone).
#[derive(Clone)]
pub struct Relay {
    pool: PgPool,
    http: reqwest::Client,
    tokens: Option<Arc<ServiceTokenSource>>,
    endpoints: HashMap<&'static str, String>,
    metrics: OutboxMetrics,
    policy: RelayPolicy,
    /// When the gauges were last refreshed: their query reads every pending delivery, so a
    /// busy relay refreshes them every couple of seconds, not after every round.
    gauges_at: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

/// How often a busy relay refreshes its gauges.
const GAUGES_EVERY: Duration = Duration::from_secs(2);

#[derive(sqlx::FromRow)]
struct Claimed {
    seq: i64,
    message_id: Uuid,
    subscriber: String,
    envelope: sqlx::types::Json<serde_json::Value>,
    attempts: i32,
}

impl Relay {
    /// `endpoints`: each subscriber's base URL.
    pub fn new(
        pool: PgPool,
        tokens: Option<Arc<ServiceTokenSource>>,
        endpoints: HashMap<Service, String>,
        metrics: OutboxMetrics,
        policy: RelayPolicy,
    ) -> Self {
        Self {
            pool,
            http: crate::client::http_client(policy.request_timeout),
            tokens,
            endpoints: endpoints
                .into_iter()
                .map(|(service, url)| (service.name(), url.trim_end_matches('/').to_owned()))
                .collect(),
            metrics,
            policy,
            gauges_at: Arc::default(),
        }
    }

    /// Whether the gauges are due a refresh (and, if so, marks them refreshed now).
    fn gauges_due(&self) -> bool {
        let Ok(mut at) = self.gauges_at.lock() else {
            return true;
        };
        let due = at.is_none_or(|t| t.elapsed() >= GAUGES_EVERY);
        if due {
            *at = Some(std::time::Instant::now());
        }
        due
    }

    /// Delivers until `stop` is cancelled. A round that fails (the database went away) ends the
    /// run with its error, for the supervisor to count and restart.
    pub async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        loop {
            let delivered = self.deliver_batch().await?;
            if delivered == 0 {
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    () = tokio::time::sleep(self.policy.idle_poll) => {}
                }
            } else if stop.is_cancelled() {
                return Ok(());
            }
        }
    }

    /// One round: claims due deliveries, attempts each once, and refreshes the gauges. Returns
    /// how many it attempted.
    ///
    /// Claiming is a short transaction that leases the rows (their next attempt moves past the
    /// time the round may take), so no transaction or connection is held while subscribers are
    /// called; a relay that dies mid-round leaves leases that simply fall due again.
    pub async fn deliver_batch(&self) -> sqlx::Result<usize> {
        // Due, not yet delivered, and no earlier message of the same aggregate still pending
        // for the same subscriber. That keeps the order per aggregate even across relays: an
        // earlier message leased by another relay is still pending, so later ones wait.
        let mut claimed: Vec<Claimed> = sqlx::query_as(
            "UPDATE outbox_deliveries d SET next_attempt_at = now() + $2
             FROM (SELECT d.message_id, d.subscriber, o.seq, o.envelope
                   FROM outbox_deliveries d JOIN outbox o ON o.id = d.message_id
                   WHERE d.delivered_at IS NULL AND d.dead_at IS NULL AND d.next_attempt_at <= now()
                     AND NOT EXISTS (
                         SELECT 1 FROM outbox_deliveries d2 JOIN outbox o2 ON o2.id = d2.message_id
                         WHERE d2.subscriber = d.subscriber AND o2.aggregate_id = o.aggregate_id
                           AND o2.seq < o.seq AND d2.delivered_at IS NULL AND d2.dead_at IS NULL)
                   ORDER BY o.seq
                   LIMIT $1
                   FOR UPDATE OF d SKIP LOCKED) due
             WHERE d.message_id = due.message_id AND d.subscriber = due.subscriber
             RETURNING due.seq, d.message_id, d.subscriber, due.envelope, d.attempts",
        )
        .bind(self.policy.batch)
        .bind(self.lease())
        .fetch_all(&self.pool)
        .await?;
        claimed.sort_by_key(|c| c.seq);
        // A round ends while its lease still covers the call in progress: what it did not reach
        // is handed back at once, so the lease can stay short and the claims of a relay that
        // died (a replica killed) fall due again within it.
        let deadline =
            tokio::time::Instant::now() + self.lease().saturating_sub(self.policy.request_timeout);
        let mut delivered: Vec<&Claimed> = Vec::with_capacity(claimed.len());
        let mut unreached: &[Claimed] = &[];
        for (i, delivery) in claimed.iter().enumerate() {
            if tokio::time::Instant::now() >= deadline {
                unreached = &claimed[i..];
                break;
            }
            match self.deliver(delivery).await {
                Ok(()) => delivered.push(delivery),
                Err(error) => self.settle_failure(delivery, &error).await?,
            }
        }
        self.settle_delivered(&delivered).await?;
        self.hand_back(unreached).await?;
        if self.gauges_due()
            && let Err(e) = self.update_gauges().await
        {
            tracing::warn!(error = %e, "outbox gauges not updated");
        }
        Ok(claimed.len())
    }

    /// How long a round's claims are its own: a few calls' time. A round stops starting calls
    /// one call's time before it ends (see [`Self::deliver_batch`]), so it never outlives it.
    fn lease(&self) -> Duration {
        self.policy
            .request_timeout
            .saturating_mul(3)
            .max(Duration::from_secs(1))
    }

    /// Makes claimed deliveries the round did not reach due again, as if never claimed.
    async fn hand_back(&self, unreached: &[Claimed]) -> sqlx::Result<()> {
        if unreached.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = unreached.iter().map(|d| d.message_id).collect();
        let subscribers: Vec<&str> = unreached.iter().map(|d| d.subscriber.as_str()).collect();
        sqlx::query(
            "UPDATE outbox_deliveries d SET next_attempt_at = now()
             FROM unnest($1::uuid[], $2::text[]) AS back(message_id, subscriber)
             WHERE d.message_id = back.message_id AND d.subscriber = back.subscriber
               AND d.delivered_at IS NULL",
        )
        .bind(&ids)
        .bind(&subscribers)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn deliver(&self, delivery: &Claimed) -> Result<(), String> {
        let Some(base) = self.endpoints.get(delivery.subscriber.as_str()) else {
            return Err(format!("no URL configured for {}", delivery.subscriber));
        };
        // The message id doubles as the request id, so the consumer's logs name the message.
        let mut request = self
            .http
            .post(format!("{base}/v1/messages"))
            .header(
                crate::telemetry::REQUEST_ID_HEADER,
                delivery.message_id.to_string(),
            )
            .json(&delivery.envelope.0);
        if let Some(tokens) = &self.tokens {
            let token = tokens.token().await.map_err(|e| e.to_string())?;
            request = request.bearer_auth(token.expose_secret());
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                if response.status() == reqwest::StatusCode::UNAUTHORIZED {
                    if let Some(tokens) = &self.tokens {
                        tokens.invalidate().await;
                    }
                }
                Err(format!("answered {}", response.status()))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// Marks the round's successful deliveries delivered, in one statement.
    async fn settle_delivered(&self, delivered: &[&Claimed]) -> sqlx::Result<()> {
        if delivered.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = delivered.iter().map(|d| d.message_id).collect();
        let subscribers: Vec<&str> = delivered.iter().map(|d| d.subscriber.as_str()).collect();
        sqlx::query(
            "UPDATE outbox_deliveries d
             SET delivered_at = now(), attempts = d.attempts + 1,
                 first_attempt_at = COALESCE(d.first_attempt_at, now()), last_error = NULL
             FROM unnest($1::uuid[], $2::text[]) AS done(message_id, subscriber)
             WHERE d.message_id = done.message_id AND d.subscriber = done.subscriber",
        )
        .bind(&ids)
        .bind(&subscribers)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Schedules a failed delivery's next attempt, or parks it as dead.
    async fn settle_failure(&self, delivery: &Claimed, error: &str) -> sqlx::Result<()> {
        self.metrics.failures.inc();
        let backoff = self.policy.backoff(delivery.attempts + 1);
        let dead: bool = sqlx::query_scalar(
            "UPDATE outbox_deliveries
             SET attempts = attempts + 1,
                 first_attempt_at = COALESCE(first_attempt_at, now()),
                 next_attempt_at = now() + $3,
                 last_error = $4,
                 dead_at = CASE WHEN now() - COALESCE(first_attempt_at, now()) >= $5
                                THEN now() END
             WHERE message_id = $1 AND subscriber = $2
             RETURNING dead_at IS NOT NULL",
        )
        .bind(delivery.message_id)
        .bind(&delivery.subscriber)
        .bind(backoff)
        .bind(error)
        .bind(self.policy.dead_after)
        .fetch_one(&self.pool)
        .await?;
        if dead {
            self.metrics.dead.inc();
            tracing::error!(
                message_id = %delivery.message_id,
                subscriber = %delivery.subscriber,
                attempts = delivery.attempts + 1,
                %error,
                "message parked as dead; re-queue it with `outbox requeue`"
            );
        } else {
            tracing::warn!(
                message_id = %delivery.message_id,
                subscriber = %delivery.subscriber,
                attempts = delivery.attempts + 1,
                retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                %error,
                "message delivery failed; will retry"
            );
        }
        Ok(())
    }

    async fn update_gauges(&self) -> sqlx::Result<()> {
        let (pending, oldest, parked): (i64, Option<f64>, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE d.delivered_at IS NULL AND d.dead_at IS NULL),
                    EXTRACT(EPOCH FROM now() - min(o.created_at)
                        FILTER (WHERE d.delivered_at IS NULL AND d.dead_at IS NULL))::float8,
                    count(*) FILTER (WHERE d.dead_at IS NOT NULL)
             FROM outbox_deliveries d JOIN outbox o ON o.id = d.message_id
             WHERE d.delivered_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        self.metrics.pending.set(pending);
        self.metrics.oldest_pending_age.set(oldest.unwrap_or(0.0));
        self.metrics.parked.set(parked);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_its_cap() {
        let policy = RelayPolicy {
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            ..RelayPolicy::default()
        };
        assert_eq!(policy.backoff(1), Duration::from_secs(1));
        assert_eq!(policy.backoff(2), Duration::from_secs(2));
        assert_eq!(policy.backoff(5), Duration::from_secs(16));
        assert_eq!(policy.backoff(30), Duration::from_secs(60));
    }
}
