//! What every handler and the sender can reach, and notification-service's own metrics.

use std::time::Duration;

use prometheus::{Gauge, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts};
use service_kit::metrics::Metrics;
use sqlx::PgPool;

use crate::domain::NotificationType;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
}

/// How an attempt ended, as `notifications_sent_total` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The server accepted the e-mail.
    Sent,
    /// Refused for good: FAILED.
    Failed,
    /// Failed for now: to be tried again.
    Retry,
}

impl Outcome {
    pub const ALL: [Self; 3] = [Self::Sent, Self::Failed, Self::Retry];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Retry => "retry",
        }
    }
}

#[derive(Clone)]
pub struct NotificationMetrics {
    sent: IntCounterVec,
    duration: Histogram,
    pending: IntGauge,
    oldest_pending_age: Gauge,
}

impl NotificationMetrics {
    pub fn register(metrics: &Metrics) -> Self {
        let this = Self {
            sent: metrics.register(
                IntCounterVec::new(
                    Opts::new(
                        "notifications_sent_total",
                        "Send attempts by notification type and outcome (sent, failed for good, \
                         retry later)",
                    ),
                    &["type", "status"],
                )
                .expect("static metric definition"),
            ),
            duration: metrics.register(
                Histogram::with_opts(
                    HistogramOpts::new(
                        "notification_send_duration_seconds",
                        "Time one send took (handing the e-mail to the SMTP server or writing its \
                         file), whatever its outcome",
                    )
                    .buckets(vec![
                        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    ]),
                )
                .expect("static metric definition"),
            ),
            pending: metrics.register(
                IntGauge::new(
                    "notifications_pending",
                    "Notifications not sent yet (PENDING)",
                )
                .expect("static metric definition"),
            ),
            oldest_pending_age: metrics.register(
                Gauge::new(
                    "notifications_oldest_pending_age_seconds",
                    "Age of the oldest PENDING notification: alert when it grows (the mail \
                     server is down or refuses us)",
                )
                .expect("static metric definition"),
            ),
        };
        // Every series exists from the start, so dashboards and alerts see zeros, not gaps.
        for kind in NotificationType::ALL {
            for outcome in Outcome::ALL {
                this.sent
                    .with_label_values(&[kind.as_str(), outcome.as_str()])
                    .inc_by(0);
            }
        }
        this
    }

    /// One attempt of a `kind` notification ended with `outcome`.
    pub fn attempted(&self, kind: NotificationType, outcome: Outcome) {
        self.sent
            .with_label_values(&[kind.as_str(), outcome.as_str()])
            .inc();
    }

    /// One send (the mail server's part of an attempt) took `took`.
    pub fn send_took(&self, took: Duration) {
        self.duration.observe(took.as_secs_f64());
    }

    pub fn set_pending(&self, count: i64, oldest_age_seconds: f64) {
        self.pending.set(count);
        self.oldest_pending_age.set(oldest_age_seconds);
    }
}
