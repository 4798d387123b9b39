//! The compact seat map: versions, status, layout, the cache, and the live stream.

use std::collections::VecDeque;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::StreamExt;
use reqwest::header;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{StatusCode, TestApp, assert_problem};

/// Every request compares the version with the database: answers are exact.
const EXACT: &[(&str, &str)] = &[("SEATMAP_REFRESH_MS", "0")];

async fn status(app: &TestApp, event: Uuid) -> Value {
    let response = app
        .get(&format!("/v1/events/{event}/seatmap/status"), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The statuses as the database has them, in map order (a hold is shown until the sweeper
/// writes its expiry down), and the version.
async fn in_db(pool: &PgPool, event: Uuid) -> (i64, String) {
    sqlx::query_as(
        "SELECT (SELECT sum(version)::bigint FROM seat_versions WHERE event_id = $1),
                string_agg(CASE WHEN sold_order_id IS NOT NULL THEN 'S'
                                WHEN hold_id IS NOT NULL THEN 'H' ELSE 'A' END, ''
                           ORDER BY section, length(row), row, number, id)
         FROM seats WHERE event_id = $1",
    )
    .bind(event)
    .fetch_one(pool)
    .await
    .unwrap()
}

fn version(status: &Value) -> i64 {
    status["version"].as_i64().unwrap()
}

fn statuses(status: &Value) -> String {
    status["statuses"].as_str().unwrap().to_owned()
}

#[sqlx::test(migrations = false)]
async fn the_status_moves_with_every_change_and_answers_304_when_unchanged(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), EXACT).await;
    let (event, seats) = app.event_with_seats(25).await;
    let first = status(&app, event).await;
    assert_eq!(statuses(&first), "A".repeat(25));
    assert_eq!(first["status"], "ON_SALE");
    let url = format!("/v1/events/{event}/seatmap/status");
    let etag = format!("\"s{}\"", version(&first));
    let again = app
        .http
        .get(app.url(&url))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[header::ETAG], etag.as_str());

    // A hold, a sale, a release, a return and an expiry: each a new version, as the database says.
    let mut versions = vec![version(&first)];
    let mut check = async |expected: &str| {
        let now = status(&app, event).await;
        assert!(version(&now) > *versions.last().unwrap(), "{now}");
        versions.push(version(&now));
        assert_eq!(statuses(&now), expected);
        assert_eq!(
            in_db(&pool, event).await,
            (version(&now), expected.to_owned())
        );
    };
    let held = app.held(event, &seats[..2], None).await;
    check(&format!("HH{}", "A".repeat(23))).await;
    let order = Uuid::now_v7();
    assert_eq!(app.allocate(held, order).await.status(), StatusCode::OK);
    check(&format!("SS{}", "A".repeat(23))).await;
    let released = app.held(event, &seats[5..6], None).await;
    check(&format!("SSAAAH{}", "A".repeat(19))).await;
    app.release(released, &app.service_token).await;
    check(&format!("SS{}", "A".repeat(23))).await;
    app.return_seats(event, &seats[1..2], order).await;
    check(&format!("SA{}", "A".repeat(23))).await;
    app.held(event, &seats[24..], Some(1)).await;
    check(&format!("SA{}H", "A".repeat(22))).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    seating_service::sweeper::sweep_once(&pool, &app.state.metrics)
        .await
        .unwrap();
    check(&format!("SA{}", "A".repeat(23))).await;

    // The JSON map of before is the same data, with its own ETag.
    let map = app.get(&format!("/v1/events/{event}/seatmap"), None).await;
    let tag = format!("\"m{}\"", versions.last().unwrap());
    assert_eq!(map.headers()[header::ETAG], tag.as_str());
    let map: Value = map.json().await.unwrap();
    assert_eq!(
        (&map["available"], &map["held"], &map["sold"]),
        (&Value::from(24), &Value::from(0), &Value::from(1))
    );
    assert_eq!(map["sections"][0]["rows"][0]["seats"][0]["status"], "SOLD");
    let unchanged = app
        .http
        .get(app.url(&format!("/v1/events/{event}/seatmap")))
        .header(header::IF_NONE_MATCH, &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_problem(
        app.get(
            &format!("/v1/events/{}/seatmap/status", Uuid::now_v7()),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// A layout's seat ids, in layout order.
fn layout_ids(layout: &Value) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for section in layout["sections"].as_array().unwrap() {
        for row in section["rows"].as_array().unwrap() {
            let prefix = row["idPrefix"].as_str().unwrap();
            let prefix: Vec<u8> = (0..prefix.len() / 2)
                .map(|i| u8::from_str_radix(&prefix[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            let rest = URL_SAFE_NO_PAD
                .decode(row["idSuffixes"].as_str().unwrap())
                .unwrap();
            let seats = row["numbers"].as_array().unwrap().len();
            let chunk = 16 - prefix.len();
            assert_eq!(rest.len(), chunk * seats);
            for i in 0..seats {
                let bytes: Vec<u8> = prefix
                    .iter()
                    .chain(&rest[i * chunk..(i + 1) * chunk])
                    .copied()
                    .collect();
                ids.push(Uuid::from_slice(&bytes).unwrap());
            }
        }
    }
    ids
}

#[sqlx::test(migrations = false)]
async fn the_layout_names_every_seat_in_status_order_and_is_cached_for_ever_by_version(
    pool: PgPool,
) {
    let app = TestApp::spawn_with(pool, EXACT).await;
    let (event, seats) = app.event_with_seats(25).await;
    let current = status(&app, event).await;
    let layout_version = current["layoutVersion"].as_i64().unwrap();
    let url = format!("/v1/events/{event}/seatmap/layout?v={layout_version}");
    let response = app.get(&url, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    let layout: Value = response.json().await.unwrap();
    assert_eq!(layout["seatCount"], 25);
    assert_eq!(layout["prices"], serde_json::json!(["50.00"]));
    // Seats in rows of 10 (A, B, C), ids in the order the inventory sent them.
    assert_eq!(layout_ids(&layout), seats);
    assert_eq!(
        layout["sections"][0]["rows"][2]["numbers"],
        serde_json::json!([1, 2, 3, 4, 5])
    );
    let unversioned = app
        .get(&format!("/v1/events/{event}/seatmap/layout"), None)
        .await;
    assert_eq!(unversioned.headers()[header::CACHE_CONTROL], "no-cache");

    // A price changes: a new layout version, named by the status.
    let body = crate::helpers::inventory(&seats, "60.00");
    let response = app.put_inventory(event, &body, &app.catalog_token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let after = status(&app, event).await;
    assert!(after["layoutVersion"].as_i64().unwrap() > layout_version);
    let layout: Value = app
        .get(&format!("/v1/events/{event}/seatmap/layout"), None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(layout["prices"], serde_json::json!(["60.00"]));
}

#[sqlx::test(migrations = false)]
async fn answers_come_from_memory_until_the_refresh_interval_passes(pool: PgPool) {
    let app = TestApp::spawn_with(pool, &[("SEATMAP_REFRESH_MS", "400")]).await;
    let (event, seats) = app.event_with_seats(5).await;
    let before = status(&app, event).await;
    app.held(event, &seats[..1], None).await;
    // Within the interval the cached answer stands (the bound docs/architecture.md names) ...
    assert_eq!(status(&app, event).await, before);
    tokio::time::sleep(Duration::from_millis(450)).await;
    // ... and after it the change shows.
    assert_eq!(statuses(&status(&app, event).await), "HAAAA");
    let metrics = app.metrics().await;
    for (result, count) in [("loaded", 1), ("hit", 1), ("checked", 1)] {
        let line = format!("seatmap_cache_requests_total{{result=\"{result}\"}} {count}");
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
}

/// One Server-Sent Event.
#[derive(Debug)]
struct Sse {
    event: String,
    id: i64,
    data: Value,
}

/// A subscriber reading a seat map stream, and the statuses it has rebuilt.
struct Subscriber {
    response: reqwest::Response,
    buffer: String,
    events: VecDeque<Sse>,
    version: i64,
    statuses: Vec<u8>,
}

impl Subscriber {
    async fn connect(app: &TestApp, event: Uuid, last_event_id: Option<i64>) -> reqwest::Response {
        let mut request = app
            .http
            .get(app.url(&format!("/v1/events/{event}/seatmap/stream")));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        request.send().await.unwrap()
    }

    async fn start(app: &TestApp, event: Uuid, last: Option<(i64, Vec<u8>)>) -> Self {
        let response = Self::connect(app, event, last.as_ref().map(|(v, _)| *v)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/event-stream"
        );
        let (version, statuses) = last.unwrap_or((-1, Vec::new()));
        Self {
            response,
            buffer: String::new(),
            events: VecDeque::new(),
            version,
            statuses,
        }
    }

    async fn next(&mut self) -> Sse {
        loop {
            if let Some(event) = self.events.pop_front() {
                return event;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("the stream goes on");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut event, mut id, mut data) = (String::new(), None, None);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        v.trim().clone_into(&mut event);
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().unwrap());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data = Some(serde_json::from_str(v.trim()).unwrap());
                    }
                }
                // Comments (the heartbeat) carry no event.
                if let (Some(id), Some(data)) = (id, data) {
                    self.events.push_back(Sse { event, id, data });
                }
            }
        }
    }

    /// Reads one event and applies it: a delta must follow the version the subscriber has.
    async fn apply_next(&mut self) -> Sse {
        let event = self.next().await;
        match event.event.as_str() {
            "snapshot" => {
                self.statuses = statuses(&event.data).into_bytes();
            }
            "delta" => {
                assert_eq!(event.data["from"], self.version, "a change was missed");
                for change in event.data["changes"].as_array().unwrap() {
                    let position = usize::try_from(change[0].as_u64().unwrap()).unwrap();
                    self.statuses[position] = change[1].as_str().unwrap().as_bytes()[0];
                }
            }
            other => panic!("unexpected event {other}"),
        }
        assert!(event.id > self.version);
        self.version = event.id;
        event
    }

    /// Applies events until the subscriber has `version`.
    async fn catch_up(&mut self, version: i64) {
        while self.version < version {
            self.apply_next().await;
        }
        assert_eq!(self.version, version);
    }

    fn statuses(&self) -> String {
        String::from_utf8(self.statuses.clone()).unwrap()
    }
}

const LIVE: &[(&str, &str)] = &[
    ("SEATMAP_REFRESH_MS", "20"),
    ("HOLDS_PER_USER_PER_MINUTE", "0"),
];

#[sqlx::test(migrations = false)]
async fn a_subscriber_that_reconnects_with_last_event_id_misses_no_change(pool: PgPool) {
    let app = TestApp::spawn_running(pool.clone(), LIVE).await;
    let (event, seats) = app.event_with_seats(20).await;
    let mut subscriber = Subscriber::start(&app, event, None).await;
    assert_eq!(subscriber.apply_next().await.event, "snapshot");
    let first = app.held(event, &seats[..2], None).await;
    let (version, _) = in_db(&pool, event).await;
    subscriber.catch_up(version).await;
    assert_eq!(
        subscriber.statuses,
        b"HH".iter().chain(&[b'A'; 18]).copied().collect::<Vec<_>>()
    );
    let kept = (subscriber.version, subscriber.statuses.clone());
    drop(subscriber);

    // Changes while it is away: a sale, a hold, a release.
    app.allocate(first, Uuid::now_v7()).await;
    let second = app.held(event, &seats[4..7], None).await;
    app.held(event, &seats[10..11], None).await;
    app.release(second, &app.service_token).await;
    let (version, expected) = in_db(&pool, event).await;
    // The refresher has published them (the status shows the version) ...
    tokio::time::timeout(Duration::from_secs(5), async {
        while super::seatmap::version(&status(&app, event).await) < version {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap();
    // ... and the subscriber that comes back gets them as deltas, not a snapshot.
    let mut back = Subscriber::start(&app, event, Some(kept)).await;
    while back.version < version {
        assert_eq!(back.apply_next().await.event, "delta");
    }
    assert_eq!(back.statuses(), expected);

    // An id the history does not reach: the whole statuses again.
    let mut lost = Subscriber::start(&app, event, Some((-7, Vec::new()))).await;
    let first = lost.apply_next().await;
    assert_eq!((first.event.as_str(), first.id), ("snapshot", version));
    assert_eq!(lost.statuses(), expected);
}

/// How many holds, releases and sales the burst makes (the issue asks for 10 000).
const BURST: usize = 10_000;

#[sqlx::test(migrations = false)]
async fn after_a_burst_of_holds_releases_and_sales_a_subscriber_has_the_database_statuses(
    pool: PgPool,
) {
    let app = TestApp::spawn_running(pool.clone(), LIVE).await;
    let (event, seats) = app.event_with_seats(400).await;
    let mut subscriber = Subscriber::start(&app, event, None).await;
    subscriber.apply_next().await;
    // Each worker holds seats of its own stripe, then releases or sells them; what it sold it
    // returns now and then, so the burst never runs out of seats.
    let workers = 16;
    let per_worker = BURST / workers / 2;
    let app = std::sync::Arc::new(app);
    let reader = {
        let app = app.clone();
        tokio::spawn(async move {
            // Reads the stream while the burst runs, as a buyer's browser would.
            let (final_version, _) = loop {
                let done = app
                    .catalog
                    .failing
                    .load(std::sync::atomic::Ordering::SeqCst);
                tokio::select! {
                    _ = subscriber.apply_next() => {}
                    () = tokio::time::sleep(Duration::from_millis(200)), if done => {}
                }
                if done {
                    break in_db(&app.pool, event).await;
                }
            };
            subscriber.catch_up(final_version).await;
            subscriber
        })
    };
    let mut burst = futures::stream::iter(0..workers)
        .map(|w| {
            let app = app.clone();
            let mine: Vec<Uuid> = seats.iter().skip(w).step_by(workers).copied().collect();
            async move {
                for i in 0..per_worker {
                    let pick =
                        &mine[(i * 2) % mine.len()..][..2.min(mine.len() - (i * 2) % mine.len())];
                    let response = app.reserve(event, pick, Uuid::now_v7(), None).await;
                    if response.status() != StatusCode::CREATED {
                        continue; // sold earlier: return it
                    }
                    let hold: Value = response.json().await.unwrap();
                    let hold: Uuid = hold["holdId"].as_str().unwrap().parse().unwrap();
                    if i % 5 == 0 {
                        let order = Uuid::now_v7();
                        app.allocate(hold, order).await;
                        if i % 10 == 0 {
                            app.return_seats(event, pick, order).await;
                        }
                    } else {
                        app.release(hold, &app.service_token).await;
                    }
                }
            }
        })
        .buffer_unordered(workers);
    while burst.next().await.is_some() {}
    // Tells the reader the burst is over (the stub's flag is otherwise unused here).
    app.catalog.fail(true);
    let subscriber = reader.await.unwrap();
    let (version, expected) = in_db(&pool, event).await;
    assert_eq!(subscriber.version, version);
    assert_eq!(subscriber.statuses(), expected);
    assert!(expected.contains('S'), "{expected}");
}

#[sqlx::test(migrations = false)]
async fn subscribers_beyond_the_limit_get_503_and_a_slow_one_is_dropped(pool: PgPool) {
    let app = TestApp::spawn_with(
        pool,
        &[
            ("SEATMAP_REFRESH_MS", "0"),
            ("SEATMAP_MAX_SUBSCRIBERS", "1"),
            ("SEATMAP_SUBSCRIBER_BUFFER", "1"),
            ("SEATMAP_HEARTBEAT_SECONDS", "1"),
        ],
    )
    .await;
    let (event, seats) = app.event_with_seats(5).await;
    let mut first = Subscriber::start(&app, event, None).await;
    first.apply_next().await;
    let refused = Subscriber::connect(&app, event, None).await;
    assert_eq!(refused.headers()[header::RETRY_AFTER], "5");
    assert_problem(refused, StatusCode::SERVICE_UNAVAILABLE).await;
    drop(first);

    // A subscriber that reads nothing while two changes are published (the buffer holds one)
    // is dropped, and its place given back. (The server notices the first one left when it
    // next writes to it: the heartbeat, every second here.)
    let slow = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(slow) = app.state.seat_maps.subscribe(event, None).await {
                return slow;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap();
    let mut slow = Box::pin(slow.into_stream());
    let _snapshot = slow.next().await.unwrap().unwrap();
    for seat in &seats[..2] {
        app.held(event, std::slice::from_ref(seat), None).await;
        status(&app, event).await; // publishes the change (every request compares versions)
    }
    assert!(
        slow.next().await.is_none(),
        "a lagging subscriber is dropped"
    );
    drop(slow);
    let metrics = app.metrics().await;
    for line in [
        "seatmap_subscribers_dropped_total 1",
        "seatmap_subscribers 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    // The 503s: the one above, and the tries while the first subscriber was still counted.
    assert!(
        !metrics
            .lines()
            .any(|l| l == "seatmap_subscribers_refused_total 0"),
        "{metrics}"
    );
    let mut again = Subscriber::start(&app, event, None).await;
    assert_eq!(again.apply_next().await.event, "snapshot");
}

#[sqlx::test(migrations = false)]
async fn an_event_that_cannot_be_read_does_not_stop_the_other_streams(pool: PgPool) {
    let app = TestApp::spawn_running(pool.clone(), LIVE).await;
    let (broken, broken_seats) = app.event_with_seats(3).await;
    let (event, seats) = app.event_with_seats(3).await;
    status(&app, broken).await;
    let mut subscriber = Subscriber::start(&app, event, None).await;
    subscriber.apply_next().await;
    // A stored value that is no currency, then a change: the refresher cannot read that map.
    sqlx::query("UPDATE events SET currency = 'EURO' WHERE id = $1")
        .bind(broken)
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("UPDATE seats SET hold_id = NULL WHERE id = $1")
        .bind(broken_seats[0])
        .execute(&pool)
        .await
        .unwrap();
    // Several rounds of the refresher (every 10 ms here) failed to read it: the task is up
    // (a failed task marks /ready down until it restarts, a second later) ...
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(app.get("/ready", None).await.status(), StatusCode::OK);
    // ... and the other event's subscriber gets its change well within that second.
    app.held(event, &seats[..1], None).await;
    let (version, expected) = in_db(&pool, event).await;
    tokio::time::timeout(Duration::from_millis(500), subscriber.catch_up(version))
        .await
        .unwrap();
    assert_eq!(subscriber.statuses(), expected);
}
