//! Background work, supervised: outbox relays, sweepers, purges, recovery loops.
//!
//! A service hands the kit a list of [`Task`]s; the kit runs each one beside the HTTP server and
//! watches it. A task that panics or returns an error is logged, counted
//! (`background_task_failures_total{task}`) and started again after a back-off that doubles up to
//! a minute; while it is down, `/ready` answers 503 naming it, so that an orchestrator (and an
//! on-call person) sees a replica that silently stopped expiring holds or delivering messages.
//! On shutdown every task is told to stop, and given a few seconds to finish its round.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use prometheus::IntCounterVec;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

type Body = Arc<dyn Fn(CancellationToken) -> BoxFuture<'static, anyhow::Result<()>> + Send + Sync>;

/// One piece of background work. Its body can be started any number of times: the supervisor
/// starts it again after a failure.
#[derive(Clone)]
pub struct Task {
    name: &'static str,
    body: Body,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Task {
    /// A long-running loop. It should return `Ok(())` once `stop` is cancelled; returning before
    /// that (with `Ok` or `Err`) or panicking counts as a failure.
    pub fn new<F, Fut>(name: &'static str, body: F) -> Self
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        Self {
            name,
            body: Arc::new(move |stop| body(stop).boxed()),
        }
    }

    /// Work done every `every` (first right away). A round that fails ends the task, so the
    /// supervisor counts it, marks it down and starts it again after its back-off.
    pub fn periodic<F, Fut>(name: &'static str, every: Duration, round: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let round = Arc::new(round);
        Self::new(name, move |stop| {
            let round = round.clone();
            async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return Ok(()),
                        _ = tick.tick() => {}
                    }
                    round().await?;
                }
            }
        })
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Which tasks are down right now; `/ready` reads it.
#[derive(Clone, Debug, Default)]
pub struct TaskHealth(Arc<Mutex<BTreeSet<&'static str>>>);

impl TaskHealth {
    /// The names of the tasks that failed and have not been started again yet.
    pub fn down(&self) -> Vec<&'static str> {
        self.0
            .lock()
            .map(|down| down.iter().copied().collect())
            .unwrap_or_default()
    }

    fn set(&self, name: &'static str, is_down: bool) {
        if let Ok(mut down) = self.0.lock() {
            if is_down {
                down.insert(name);
            } else {
                down.remove(name);
            }
        }
    }
}

/// How restarts are paced.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// A task that ran this long before failing starts again from the first back-off.
    pub healthy_after: Duration,
    /// How long shutdown waits for tasks to finish their round.
    pub shutdown_grace: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            healthy_after: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Runs and watches a service's tasks.
#[derive(Clone)]
pub struct Supervisor {
    health: TaskHealth,
    failures: IntCounterVec,
    policy: RestartPolicy,
}

impl Supervisor {
    pub fn new(metrics: &Metrics, health: TaskHealth, policy: RestartPolicy) -> Self {
        let failures = metrics.counter_vec(
            "background_task_failures_total",
            "Background tasks that panicked or failed, by task (each is restarted)",
            &["task"],
        );
        Self {
            health,
            failures,
            policy,
        }
    }

    /// Starts every task; they run until [`Running::stop`].
    pub fn start(&self, tasks: Vec<Task>) -> Running {
        let stop = CancellationToken::new();
        let mut set = JoinSet::new();
        for task in tasks {
            // Zero-initialised so the failure series exists before the first failure.
            self.failures.with_label_values(&[task.name]).inc_by(0);
            set.spawn(self.clone().watch(task, stop.clone()));
        }
        Running {
            stop,
            set,
            grace: self.policy.shutdown_grace,
        }
    }

    async fn watch(self, task: Task, stop: CancellationToken) {
        let mut backoff = self.policy.first_backoff;
        loop {
            let started = tokio::time::Instant::now();
            // A panic is caught here rather than by the runtime, so it is counted like an error.
            let outcome = AssertUnwindSafe((task.body)(stop.clone()))
                .catch_unwind()
                .await;
            if stop.is_cancelled() {
                return;
            }
            let failure = match outcome {
                Ok(Ok(())) => "returned before shutdown".to_owned(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(panic) => panic_message(panic.as_ref()),
            };
            if started.elapsed() >= self.policy.healthy_after {
                backoff = self.policy.first_backoff;
            }
            self.failures.with_label_values(&[task.name]).inc();
            self.health.set(task.name, true);
            tracing::error!(
                task = task.name,
                error = %failure,
                restart_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                "background task failed; it will be restarted"
            );
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(self.policy.max_backoff);
            self.health.set(task.name, false);
            tracing::info!(task = task.name, "background task restarted");
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    format!("panicked: {text}")
}

/// The tasks of a running service.
pub struct Running {
    stop: CancellationToken,
    set: JoinSet<()>,
    grace: Duration,
}

impl Running {
    /// Tells every task to stop and waits for them, at most the grace period.
    pub async fn stop(mut self) {
        self.stop.cancel();
        let all = async { while self.set.join_next().await.is_some() {} };
        if tokio::time::timeout(self.grace, all).await.is_err() {
            tracing::warn!("background tasks did not stop in time; abandoning them");
            self.set.abort_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn quick() -> RestartPolicy {
        RestartPolicy {
            first_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            healthy_after: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(1),
        }
    }

    #[tokio::test]
    async fn a_panicking_task_is_counted_marked_down_and_restarted() {
        let metrics = Metrics::new("test");
        let health = TaskHealth::default();
        let supervisor = Supervisor::new(&metrics, health.clone(), quick());
        let starts = Arc::new(AtomicU32::new(0));
        let counter = starts.clone();
        let task = Task::new("flaky", move |stop| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(n != 0, "injected failure");
                stop.cancelled().await;
                Ok(())
            }
        });
        let running = supervisor.start(vec![task]);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(health.down(), ["flaky"]);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(health.down().is_empty());
        assert_eq!(starts.load(Ordering::SeqCst), 2);
        assert!(
            metrics
                .render()
                .contains("background_task_failures_total{task=\"flaky\"} 1")
        );
        running.stop().await;
    }

    #[tokio::test]
    async fn a_periodic_round_that_fails_restarts_the_task() {
        let metrics = Metrics::new("test");
        let health = TaskHealth::default();
        let supervisor = Supervisor::new(&metrics, health.clone(), quick());
        let rounds = Arc::new(AtomicU32::new(0));
        let counter = rounds.clone();
        let task = Task::periodic("sweeper", Duration::from_millis(10), move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                anyhow::ensure!(n != 2, "database went away");
                Ok(())
            }
        });
        let running = supervisor.start(vec![task]);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(rounds.load(Ordering::SeqCst) > 4, "the task kept running");
        assert!(
            metrics
                .render()
                .contains("background_task_failures_total{task=\"sweeper\"} 1")
        );
        running.stop().await;
    }
}
