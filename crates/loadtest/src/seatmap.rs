//! The on-sale seat map (issue 14): buyers hold and release seats of an event while a crowd
//! reads its map.
//!
//! 1. holds/s of B buyers alone, R readers polling `GET .../seatmap/status` alone, then both
//!    at once: the readers' rate and latency, the buyers' rate beside them, and the service's
//!    CPU per answer and per hold;
//! 2. the sizes of the status, the layout and the JSON map of a large event;
//! 3. S subscribers to `GET .../seatmap/stream` while the buyers run: each must rebuild the
//!    statuses the service ends with, missing no change; a probe holds and releases one seat
//!    every 300 ms, and the delay from the probe's request to each subscriber's delivery is
//!    measured (an upper bound of commit-to-delivery: the commit happens during the request).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::drive::{Stats, drive, drive_paced, histogram, label};
use crate::seating::{Seating, hold_and_release, prepare_event, service_token};

#[derive(clap::Args)]
pub struct Options {
    #[arg(long, default_value = "http://localhost:4000")]
    pub seating_url: String,
    #[arg(long, default_value = "http://localhost:8080")]
    pub user_url: String,
    #[arg(long, short = 'n', default_value_t = 2_000)]
    pub seats: usize,
    /// Buyers holding and releasing 2 seats.
    #[arg(long, default_value_t = 32)]
    pub buyers: usize,
    /// Clients polling the status.
    #[arg(long, default_value_t = 64)]
    pub readers: usize,
    /// The readers' rate in a last run beside the buyers, requests per second in all (0: no such
    /// run): a crowd polling at a given pace rather than as fast as two shared cores allow, so
    /// that what watching costs the buyers is read at a known load (issue 14 asks for 3 500).
    #[arg(long, default_value_t = 3_500)]
    pub paced_rate: u32,
    /// Seconds per run.
    #[arg(long, short, default_value_t = 10)]
    pub duration: u64,
    /// The event whose answer sizes are shown.
    #[arg(long, default_value_t = 20_000)]
    pub large_seats: usize,
    /// Stream subscribers (0: no stream run).
    #[arg(long, default_value_t = 1_000)]
    pub subscribers: usize,
    /// Seconds the buyers run while the subscribers watch.
    #[arg(long, default_value_t = 20)]
    pub stream_duration: u64,
    /// seating-service's pid, to read its resident memory (Linux).
    #[arg(long)]
    pub service_pid: Option<u32>,
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let seating = service_token(
        &options.seating_url,
        &options.user_url,
        2 * options.readers + options.subscribers,
    )
    .await?;
    println!(
        "seat map: {} seats, {} buyers holding 2 seats and releasing them, {} readers, {}s per run",
        options.seats, options.buyers, options.readers, options.duration
    );
    let (event, free) = prepare_event(&seating, options.seats, 0.0).await?;
    // Seat 0 (position 0) is the probe's; buyers take the others.
    let (probe_seat, buyers_seats): (Uuid, Arc<[Uuid]>) = (free[0], free[1..].to_vec().into());

    let run = Duration::from_secs(options.duration);
    let pid = options.service_pid;
    let cpu = cpu_seconds(pid);
    let alone = hold_and_release(&seating, event, &buyers_seats, options.buyers, run).await;
    let cpu_alone = cpu_seconds(pid) - cpu;
    alone.print();
    let status_url: Arc<str> = format!("{}/v1/events/{event}/seatmap/status", seating.base).into();
    let cpu = cpu_seconds(pid);
    let only = readers(&seating, &status_url, options.readers, run, None).await;
    let cpu_only = cpu_seconds(pid) - cpu;
    only.print();
    let (read, beside) = tokio::join!(
        readers(&seating, &status_url, options.readers, run, None),
        hold_and_release(&seating, event, &buyers_seats, options.buyers, run)
    );
    read.print();
    beside.print();
    let paced = if options.paced_rate > 0 {
        let period = Duration::from_secs(1) * u32::try_from(options.readers)? / options.paced_rate;
        let (read, beside) = tokio::join!(
            readers(&seating, &status_url, options.readers, run, Some(period)),
            hold_and_release(&seating, event, &buyers_seats, options.buyers, run)
        );
        read.print();
        beside.print();
        Some((read, beside))
    } else {
        None
    };
    #[allow(clippy::cast_precision_loss)] // counts far below 2^52
    let per_answer = cpu_only / only.requests().max(1) as f64 * 1e6;
    #[allow(clippy::cast_precision_loss)]
    let per_hold = cpu_alone / alone.outcomes.get("held").copied().unwrap_or(1).max(1) as f64 * 1e6;
    println!(
        "status {:.0} req/s at {} connections (p99 {:.1} ms) while {} buyers hold {:.0}/s; {:.0}/s without the readers; status alone {:.0} req/s (p99 {:.1} ms)",
        read.per_second(),
        options.readers,
        quantile_ms(&read, 0.99),
        options.buyers,
        held_per_second(&beside),
        held_per_second(&alone),
        only.per_second(),
        quantile_ms(&only, 0.99),
    );
    if let Some((read, beside)) = &paced {
        println!(
            "paced readers: status {:.0} req/s (p99 {:.1} ms) while {} buyers hold {:.0}/s; {:.0}/s without the readers",
            read.per_second(),
            quantile_ms(read, 0.99),
            options.buyers,
            held_per_second(beside),
            held_per_second(&alone),
        );
    }
    if pid.is_some() {
        println!(
            "seating-service CPU: {per_answer:.0} us per status answer (readers alone), {per_hold:.0} us per hold and release (buyers alone)"
        );
    }

    sizes(&seating, options.large_seats).await?;
    if options.subscribers == 0 {
        return Ok(());
    }
    stream(&seating, event, probe_seat, &buyers_seats, &options).await
}

/// `Stats` counts every request; a hold and its release count once, as "held".
#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn held_per_second(stats: &Stats) -> f64 {
    stats.outcomes.get("held").copied().unwrap_or(0) as f64 / stats.elapsed.as_secs_f64()
}

#[allow(clippy::cast_precision_loss)]
fn quantile_ms(stats: &Stats, q: f64) -> f64 {
    stats.latencies.value_at_quantile(q) as f64 / 1000.0
}

async fn body(seating: &Seating, path: &str) -> anyhow::Result<Vec<u8>> {
    let response = seating
        .http
        .get(format!("{}{path}", seating.base))
        .send()
        .await?
        .error_for_status()?;
    Ok(response.bytes().await?.to_vec())
}

async fn sizes(seating: &Seating, seats: usize) -> anyhow::Result<()> {
    let (event, _) = prepare_event(seating, seats, 0.0).await?;
    let status = body(seating, &format!("/v1/events/{event}/seatmap/status")).await?;
    let v = serde_json::from_slice::<Value>(&status)?["layoutVersion"]
        .as_i64()
        .unwrap_or_default();
    let status_bytes = status.len();
    let layout_bytes = body(seating, &format!("/v1/events/{event}/seatmap/layout?v={v}"))
        .await?
        .len();
    let map_bytes = body(seating, &format!("/v1/events/{event}/seatmap"))
        .await?
        .len();
    println!(
        "sizes for {seats} seats (uncompressed): status {status_bytes} bytes, layout {layout_bytes} bytes, JSON map {map_bytes} bytes"
    );
    Ok(())
}

/// What one subscriber saw.
#[derive(Default)]
struct Seen {
    version: i64,
    statuses: Vec<u8>,
    /// Changes of the probe's seat: its new status and when it arrived.
    probe: Vec<(u8, Instant)>,
    /// Deltas whose `from` was not the version the subscriber had.
    gaps: u64,
    events: u64,
    error: Option<String>,
}

impl Seen {
    fn apply(&mut self, event: &str, id: i64, data: &Value) {
        self.events += 1;
        match event {
            "snapshot" => {
                self.statuses = data["statuses"]
                    .as_str()
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec();
            }
            "delta" => {
                if data["from"].as_i64() != Some(self.version) {
                    self.gaps += 1;
                }
                for change in data["changes"].as_array().into_iter().flatten() {
                    let (Some(position), Some(code)) = (
                        change[0].as_u64().and_then(|p| usize::try_from(p).ok()),
                        change[1].as_str().and_then(|s| s.bytes().next()),
                    ) else {
                        continue;
                    };
                    if let Some(slot) = self.statuses.get_mut(position) {
                        *slot = code;
                    }
                    if position == 0 {
                        self.probe.push((code, Instant::now()));
                    }
                }
            }
            _ => {}
        }
        self.version = id;
    }
}

/// Reads a stream until `stop`, applying its events.
async fn subscribe(
    http: reqwest::Client,
    url: String,
    ready: Arc<tokio::sync::Barrier>,
    stop: Arc<AtomicBool>,
) -> Seen {
    let mut seen = Seen::default();
    let mut response = match http.get(&url).send().await {
        Ok(r) if r.status() == StatusCode::OK => r,
        Ok(r) => {
            seen.error = Some(r.status().to_string());
            ready.wait().await;
            return seen;
        }
        Err(e) => {
            seen.error = Some(e.to_string());
            ready.wait().await;
            return seen;
        }
    };
    let mut buffer = String::new();
    let mut started = false;
    loop {
        let chunk = match tokio::time::timeout(Duration::from_millis(500), response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            Ok(Ok(None)) => {
                seen.error = Some("the stream ended".into());
                break;
            }
            Ok(Err(e)) => {
                seen.error = Some(e.to_string());
                break;
            }
            Err(_) if stop.load(Ordering::SeqCst) => break,
            Err(_) => continue,
        };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let (mut event, mut id, mut data) = ("", None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data = serde_json::from_str::<Value>(v.trim()).ok();
                }
            }
            if let (Some(id), Some(data)) = (id, data) {
                let event = event.to_owned();
                seen.apply(&event, id, &data);
                if !started {
                    started = true;
                    ready.wait().await;
                }
            }
        }
    }
    if !started {
        ready.wait().await;
    }
    seen
}

/// GETs of the status by `clients` clients, each reading the whole body as a browser does; as
/// fast as they can, or one every `period` each.
async fn readers(
    seating: &Seating,
    url: &Arc<str>,
    clients: usize,
    run: Duration,
    period: Option<Duration>,
) -> Stats {
    let (http, url) = (seating.http.clone(), url.clone());
    let read = move |_, _| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            match http.get(&*url).send().await {
                Ok(r) if r.status() == StatusCode::OK => match r.bytes().await {
                    Ok(_) => "ok".into(),
                    Err(_) => "transport-error".into(),
                },
                other => label(other, StatusCode::OK),
            }
        }
    };
    match period {
        None => drive("GET seatmap/status", clients, run, read).await,
        Some(period) => drive_paced("GET seatmap/status, paced", clients, run, period, read).await,
    }
}

/// User and system CPU seconds the process has used (Linux; 0 without a pid).
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let Some(stat) = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
    else {
        return 0.0;
    };
    // The fields after the command (which may hold spaces): utime and stime are 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    // USER_HZ is 100 on Linux.
    #[allow(clippy::cast_precision_loss)]
    let seconds = ticks as f64 / 100.0;
    seconds
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn stream(
    seating: &Seating,
    event: Uuid,
    probe_seat: Uuid,
    buyers_seats: &Arc<[Uuid]>,
    options: &Options,
) -> anyhow::Result<()> {
    let rss_before = rss_kib(options.service_pid);
    let url = format!("{}/v1/events/{event}/seatmap/stream", seating.base);
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(tokio::sync::Barrier::new(options.subscribers + 1));
    let started = Instant::now();
    let subscribers: Vec<_> = (0..options.subscribers)
        .map(|_| {
            tokio::spawn(subscribe(
                seating.http.clone(),
                url.clone(),
                ready.clone(),
                stop.clone(),
            ))
        })
        .collect();
    ready.wait().await;
    println!(
        "{} subscribers connected in {:.1}s; seating-service RSS {} KiB before, {} KiB with them",
        options.subscribers,
        started.elapsed().as_secs_f64(),
        rss_before.map_or("?".into(), |r| r.to_string()),
        rss_kib(options.service_pid).map_or("?".into(), |r| r.to_string()),
    );

    let (probe, transitions) = probe(seating, event, probe_seat, &stop);
    let buyers = hold_and_release(
        seating,
        event,
        buyers_seats,
        options.buyers,
        Duration::from_secs(options.stream_duration),
    )
    .await;
    stop.store(true, Ordering::SeqCst);
    probe.await?;
    buyers.print();
    // Long enough for the last change to be published and read.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_with = rss_kib(options.service_pid);
    let (final_version, final_statuses) = current_status(seating, event).await?;
    let transitions = transitions.lock().map(|t| t.clone()).unwrap_or_default();
    // From the probe's request (an upper bound of commit-to-delivery) and from its answer (a
    // lower bound: the commit happened in between).
    let (mut delays, mut after_answer) = (histogram(), histogram());
    let (mut complete, mut errors, mut gaps, mut probe_mismatch, mut events) = (0, 0, 0, 0, 0);
    for subscriber in subscribers {
        let seen = subscriber.await?;
        events += seen.events;
        gaps += seen.gaps;
        if seen.error.is_some() {
            errors += 1;
        }
        if seen.version == final_version && seen.statuses == final_statuses && seen.gaps == 0 {
            complete += 1;
        }
        if seen.probe.len() != transitions.len() {
            probe_mismatch += 1;
        }
        for ((code, arrived), (sent_code, sent, answered)) in seen.probe.iter().zip(&transitions) {
            if code == sent_code {
                let micros = |from: &Instant| {
                    let since = arrived.saturating_duration_since(*from);
                    u64::try_from(since.as_micros()).unwrap_or(u64::MAX).max(1)
                };
                delays.saturating_record(micros(sent));
                after_answer.saturating_record(micros(answered));
            }
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let ms = |h: &hdrhistogram::Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "stream: {complete}/{} subscribers ended with the service's statuses at version {final_version} (errors {errors}, gaps {gaps}, probe changes missed by {probe_mismatch}); {events} events delivered; seating-service RSS {} KiB",
        options.subscribers,
        rss_with.map_or("?".into(), |r| r.to_string()),
    );
    println!(
        "stream delay over {} probe changes x subscribers ({} samples): from the probe's request p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; from its answer p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        transitions.len(),
        delays.len(),
        ms(&delays, 0.5),
        ms(&delays, 0.99),
        ms(&delays, 1.0),
        ms(&after_answer, 0.5),
        ms(&after_answer, 0.99),
        ms(&after_answer, 1.0),
    );
    Ok(())
}

/// The version and statuses the service has now.
async fn current_status(seating: &Seating, event: Uuid) -> anyhow::Result<(i64, Vec<u8>)> {
    let last: Value = seating
        .http
        .get(format!("{}/v1/events/{event}/seatmap/status", seating.base))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok((
        last["version"].as_i64().unwrap_or_default(),
        last["statuses"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec(),
    ))
}

/// Each change of the probe's seat: its new status, when its request was sent, when answered.
type Transitions = Arc<Mutex<Vec<(u8, Instant, Instant)>>>;

/// The probe: holds seat 0, waits, releases it, waits (longer than the refresh, so that no two
/// of its changes fall in one delta); each change with the time its request was sent.
fn probe(
    seating: &Seating,
    event: Uuid,
    seat: Uuid,
    stop: &Arc<AtomicBool>,
) -> (tokio::task::JoinHandle<()>, Transitions) {
    let transitions = Transitions::default();
    let (seating, record, stop) = (seating.clone(), transitions.clone(), stop.clone());
    let task = tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let sent = Instant::now();
            let body = json!({"eventId": event, "seatIds": [seat], "holderId": Uuid::now_v7()});
            let Ok(response) = seating.send("/v1/seats/reserve", &body).await else {
                continue;
            };
            if response.status() != StatusCode::CREATED {
                continue;
            }
            push(&record, b'H', sent);
            let hold: Value = response.json().await.unwrap_or_default();
            tokio::time::sleep(Duration::from_millis(300)).await;
            let sent = Instant::now();
            let body = json!({"holdId": hold["holdId"]});
            if let Ok(r) = seating.send("/v1/seats/release", &body).await {
                if r.status().is_success() {
                    push(&record, b'A', sent);
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    });
    (task, transitions)
}

fn push(transitions: &Mutex<Vec<(u8, Instant, Instant)>>, code: u8, sent: Instant) {
    if let Ok(mut t) = transitions.lock() {
        t.push((code, sent, Instant::now()));
    }
}
