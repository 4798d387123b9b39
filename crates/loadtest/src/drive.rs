//! A closed-loop driver: C workers each send a request, wait for its answer, and send the next,
//! for a fixed time; or, paced ([`drive_paced`]), send the next at a fixed period instead of at
//! once, as a crowd polling at its own pace does. Latencies go into an HDR histogram
//! (microseconds); outcomes are counted by label.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

pub struct Stats {
    pub name: String,
    pub latencies: Histogram<u64>,
    pub outcomes: BTreeMap<String, u64>,
    pub elapsed: Duration,
}

impl Stats {
    pub fn requests(&self) -> u64 {
        self.latencies.len()
    }

    pub fn per_second(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let count = self.requests() as f64;
        count / self.elapsed.as_secs_f64()
    }

    pub fn print(&self) {
        let ms = |q: f64| {
            #[allow(clippy::cast_precision_loss)]
            let micros = self.latencies.value_at_quantile(q) as f64;
            micros / 1000.0
        };
        println!(
            "{:<28} {:>8} req {:>9.1} req/s  p50 {:>7.2} ms  p95 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  {:?}",
            self.name,
            self.requests(),
            self.per_second(),
            ms(0.50),
            ms(0.95),
            ms(0.99),
            ms(1.0),
            self.outcomes,
        );
    }
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs to 60 s at 3 significant figures.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static histogram bounds")
}

/// Runs `concurrency` workers for `duration`; `request(worker, iteration)` performs one request
/// and names its outcome (`"ok"`, `"409"`, ...).
pub async fn drive<F, Fut>(name: &str, concurrency: usize, duration: Duration, request: F) -> Stats
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = String> + Send,
{
    run(name, concurrency, duration, None, request).await
}

/// As [`drive`], but each worker sends a request every `period` (spread evenly between the
/// workers), or at once when the previous answer came later than that: `concurrency / period`
/// requests per second in all, whatever the service's speed, so that what the load costs others
/// can be read at a chosen rate. Latencies are counted from each request's send.
pub async fn drive_paced<F, Fut>(
    name: &str,
    concurrency: usize,
    duration: Duration,
    period: Duration,
    request: F,
) -> Stats
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = String> + Send,
{
    run(name, concurrency, duration, Some(period), request).await
}

async fn run<F, Fut>(
    name: &str,
    concurrency: usize,
    duration: Duration,
    period: Option<Duration>,
    request: F,
) -> Stats
where
    F: Fn(usize, u64) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = String> + Send,
{
    let started = Instant::now();
    let deadline = started + duration;
    let workers = (0..concurrency).map(|worker| {
        let request = request.clone();
        let mut pace = period.map(|period| {
            let (worker, workers) = (u32::try_from(worker), u32::try_from(concurrency));
            let offset = match (worker, workers) {
                (Ok(worker), Ok(workers)) if workers > 0 => period * worker / workers,
                _ => Duration::ZERO,
            };
            let mut ticks = tokio::time::interval_at((started + offset).into(), period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks
        });
        tokio::spawn(async move {
            let mut latencies = histogram();
            let mut outcomes = BTreeMap::<String, u64>::new();
            let mut iteration = 0;
            while Instant::now() < deadline {
                if let Some(ticks) = &mut pace {
                    ticks.tick().await;
                }
                let sent = Instant::now();
                let outcome = request(worker, iteration).await;
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                latencies.saturating_record(micros.max(1));
                *outcomes.entry(outcome).or_default() += 1;
                iteration += 1;
            }
            (latencies, outcomes)
        })
    });
    let mut stats = Stats {
        name: name.to_owned(),
        latencies: histogram(),
        outcomes: BTreeMap::new(),
        elapsed: Duration::ZERO,
    };
    for worker in futures::future::join_all(workers).await {
        let (latencies, outcomes) = worker.expect("a benchmark worker panicked");
        stats
            .latencies
            .add(latencies)
            .expect("histograms share bounds");
        for (outcome, n) in outcomes {
            *stats.outcomes.entry(outcome).or_default() += n;
        }
    }
    stats.elapsed = started.elapsed();
    stats
}

/// The outcome label of an HTTP answer.
pub fn label(result: Result<reqwest::Response, reqwest::Error>, ok: reqwest::StatusCode) -> String {
    match result {
        Ok(response) if response.status() == ok => "ok".into(),
        Ok(response) => response.status().as_u16().to_string(),
        Err(e) if e.is_timeout() => "timeout".into(),
        Err(_) => "transport-error".into(),
    }
}
