//! The seat map, served from memory (docs/architecture.md, "The seat map").
//!
//! One [`Entry`] per event looked at: its [`Layout`] (places, prices, ids; moves only with an
//! inventory) and a [`Snapshot`] of its statuses at one version, with the answers serialised
//! once per version. A request that finds its entry checked longer than `refresh` ago checks
//! the version again (one primary-key read), and the refresher task does the same, in one
//! statement, for every event being watched, so readers rarely wait for the database. When the
//! version moved, the statuses are read again (one statement) and the difference goes to the
//! stream's subscribers. Holds never read this cache: the database alone decides them.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::response::sse::Event;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::Stream;
use service_kit::money::Money;
use service_kit::tasks::Task;
use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::api::{
    LayoutRow, LayoutSection, RowView, SeatMap, SeatMapDelta, SeatMapLayout, SeatMapSeat,
    SeatMapStatus, SectionView,
};
use crate::config::SeatMapSettings;
use crate::db::seatmap::{self as db, LayoutSeatRow, StatusRow, Versions};
use crate::domain::{EventStatus, SeatStatus};
use crate::error::{ApiError, ApiResult, SeatingError};
use crate::inventory::currency_code;
use crate::state::SeatMapMetrics;

/// An entry nobody asked for this long, and nobody subscribes to, is dropped.
const IDLE: Duration = Duration::from_secs(60);
/// The refresher keeps fresh the entries asked for this recently (and those with subscribers).
const WATCHED: Duration = Duration::from_secs(10);

/// Every seat map this process serves. Cheap to clone.
#[derive(Clone)]
pub struct SeatMaps(Arc<Inner>);

struct Inner {
    pool: PgPool,
    settings: SeatMapSettings,
    epoch: Instant,
    entries: Mutex<HashMap<Uuid, Arc<Entry>>>,
    /// One event's first load at a time: a crowd arriving at a cold map reads it once.
    loading: tokio::sync::Mutex<()>,
    subscribers: AtomicUsize,
    metrics: SeatMapMetrics,
    /// Cancelled on the shutdown signal: streams end, so that the server can stop.
    closing: CancellationToken,
}

/// A std lock whose holder panicked still guards consistent data here (every critical section
/// is a few assignments), so it is used rather than poisoning every later request.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One event's map.
pub struct Entry {
    current: RwLock<Arc<Snapshot>>,
    /// When the version was last compared with the database's (ms since the epoch), read
    /// before the comparison began, so that the staleness bound holds.
    checked_ms: AtomicU64,
    used_ms: AtomicU64,
    /// One refresh at a time, so changes are published in version order.
    reload: tokio::sync::Mutex<()>,
    changes: broadcast::Sender<Arc<Change>>,
    /// The last changes, for a subscriber that resumes with `Last-Event-ID`. Locked while the
    /// current snapshot is replaced, so the two always agree.
    history: Mutex<VecDeque<Arc<Change>>>,
}

impl Entry {
    fn current(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The static part of a map.
pub struct Layout {
    pub version: i64,
    pub seats: Vec<LayoutSeatRow>,
    pub json: Bytes,
}

/// The statuses of one event at one version.
pub struct Snapshot {
    pub event_id: Uuid,
    pub version: i64,
    /// ON_SALE, SOLD_OUT or CANCELLED.
    pub status: &'static str,
    pub currency: String,
    pub layout: Arc<Layout>,
    /// One byte per seat in layout order: `A`, `H` or `S`.
    pub statuses: String,
    pub counts: Counts,
    /// The status answer, also the data of a `snapshot` event (ASCII JSON).
    status_json: Bytes,
    map_json: OnceLock<Bytes>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub available: i64,
    pub held: i64,
    pub sold: i64,
}

impl Counts {
    fn of(statuses: &str) -> Self {
        let mut counts = Self::default();
        for status in statuses.bytes() {
            match status {
                b'S' => counts.sold += 1,
                b'H' => counts.held += 1,
                _ => counts.available += 1,
            }
        }
        counts
    }
}

fn seat_status(code: u8) -> SeatStatus {
    match code {
        b'S' => SeatStatus::Sold,
        b'H' => SeatStatus::Held,
        _ => SeatStatus::Available,
    }
}

/// As catalog names it; none for a draft, which buyers do not see.
fn public_status(status: EventStatus, sold_out: bool) -> Option<&'static str> {
    match (status, sold_out) {
        (EventStatus::Draft, _) => None,
        (EventStatus::Cancelled, _) => Some("CANCELLED"),
        (EventStatus::OnSale, true) => Some("SOLD_OUT"),
        (EventStatus::OnSale, false) => Some("ON_SALE"),
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(anyhow::anyhow!("seat map: {e}"))
}

impl Layout {
    fn new(
        event_id: Uuid,
        version: i64,
        currency: &str,
        seats: Vec<LayoutSeatRow>,
    ) -> ApiResult<Self> {
        let mut prices: Vec<Money> = Vec::new();
        let mut sections: Vec<LayoutSection> = Vec::new();
        // Seats come in map order: sections in order of first appearance, rows likewise.
        let mut start = 0;
        while start < seats.len() {
            let (section, row) = (&seats[start].section, &seats[start].row);
            let end = start
                + seats[start..]
                    .iter()
                    .take_while(|s| &s.section == section && &s.row == row)
                    .count();
            let run = &seats[start..end];
            let price_indexes = run
                .iter()
                .map(|s| {
                    prices
                        .iter()
                        .position(|p| *p == s.price)
                        .unwrap_or_else(|| {
                            prices.push(s.price);
                            prices.len() - 1
                        })
                })
                .collect();
            let (id_prefix, id_suffixes) = encode_ids(run.iter().map(|s| s.id.as_bytes()));
            if sections.last().is_none_or(|s| &s.section != section) {
                sections.push(LayoutSection {
                    section: section.clone(),
                    rows: Vec::new(),
                });
            }
            if let Some(last) = sections.last_mut() {
                last.rows.push(LayoutRow {
                    row: row.clone(),
                    numbers: run.iter().map(|s| s.number).collect(),
                    price_indexes,
                    id_prefix,
                    id_suffixes,
                });
            }
            start = end;
        }
        let json = serde_json::to_vec(&SeatMapLayout {
            event_id,
            layout_version: version,
            currency: currency.to_owned(),
            seat_count: seats.len(),
            prices,
            sections,
        })
        .map_err(internal)?;
        Ok(Self {
            version,
            seats,
            json: Bytes::from(json),
        })
    }
}

/// A row's ids as the bytes they share (hex) and the rest of each, concatenated (base64url):
/// ids made together (UUID v7) share their first bytes, so a 20 000-seat layout stays small.
fn encode_ids<'a>(ids: impl Iterator<Item = &'a [u8; 16]> + Clone) -> (String, String) {
    let mut shared = 16;
    let mut first: Option<&[u8; 16]> = None;
    for id in ids.clone() {
        match first {
            None => first = Some(id),
            Some(f) => shared = shared.min(f.iter().zip(id).take_while(|(a, b)| a == b).count()),
        }
    }
    let Some(first) = first else {
        return (String::new(), String::new());
    };
    let prefix = first[..shared]
        .iter()
        .fold(String::with_capacity(2 * shared), |mut hex, b| {
            use std::fmt::Write;
            let _ = write!(hex, "{b:02x}");
            hex
        });
    let rest: Vec<u8> = ids.flat_map(|id| id[shared..].iter().copied()).collect();
    (prefix, URL_SAFE_NO_PAD.encode(rest))
}

impl Snapshot {
    fn new(event_id: Uuid, row: StatusRow, layout: Arc<Layout>) -> ApiResult<Self> {
        if row.statuses.len() != layout.seats.len() {
            return Err(internal(format!(
                "event {event_id}: {} statuses for {} seats",
                row.statuses.len(),
                layout.seats.len()
            )));
        }
        let status = public_status(row.status, row.sold_out)
            .ok_or_else(|| internal(format!("event {event_id} is a draft again")))?;
        let counts = Counts::of(&row.statuses);
        let status_json = serde_json::to_string(&SeatMapStatus {
            event_id,
            version: row.version,
            layout_version: layout.version,
            status: status.to_owned(),
            available: counts.available,
            held: counts.held,
            sold: counts.sold,
            statuses: row.statuses.clone(),
        })
        .map_err(internal)?;
        Ok(Self {
            event_id,
            version: row.version,
            status,
            currency: currency_code(row.currency),
            layout,
            statuses: row.statuses,
            counts,
            status_json: Bytes::from(status_json),
            map_json: OnceLock::new(),
        })
    }

    /// `GET .../seatmap/status`.
    pub fn status_json(&self) -> Bytes {
        self.status_json.clone()
    }

    fn status_text(&self) -> &str {
        std::str::from_utf8(&self.status_json).unwrap_or_default()
    }

    /// `GET .../seatmap`, the JSON map of before, built at most once per version.
    pub fn map_json(&self) -> ApiResult<Bytes> {
        if let Some(json) = self.map_json.get() {
            return Ok(json.clone());
        }
        let json = Bytes::from(serde_json::to_vec(&self.map()).map_err(internal)?);
        Ok(self.map_json.get_or_init(|| json).clone())
    }

    /// Seats grouped by section and row, with counts.
    fn map(&self) -> SeatMap {
        let mut sections: Vec<SectionView> = Vec::new();
        for (seat, code) in self.layout.seats.iter().zip(self.statuses.bytes()) {
            let status = seat_status(code);
            if sections.last().is_none_or(|s| s.section != seat.section) {
                sections.push(SectionView {
                    section: seat.section.clone(),
                    available: 0,
                    rows: Vec::new(),
                });
            }
            let Some(section) = sections.last_mut() else {
                continue;
            };
            if status == SeatStatus::Available {
                section.available += 1;
            }
            if section.rows.last().is_none_or(|r| r.row != seat.row) {
                section.rows.push(RowView {
                    row: seat.row.clone(),
                    seats: Vec::new(),
                });
            }
            if let Some(row) = section.rows.last_mut() {
                row.seats.push(SeatMapSeat {
                    seat_id: seat.id,
                    number: seat.number,
                    price: seat.price,
                    status,
                });
            }
        }
        SeatMap {
            event_id: self.event_id,
            currency: self.currency.clone(),
            status: self.status.to_owned(),
            available: self.counts.available,
            held: self.counts.held,
            sold: self.counts.sold,
            sections,
        }
    }

    fn snapshot_event(&self) -> Event {
        Event::default()
            .event("snapshot")
            .id(self.version.to_string())
            .data(self.status_text())
    }
}

/// What the stream sends for one move of the version: a delta, or the whole statuses when the
/// layout moved too (positions changed).
pub struct Change {
    pub from: i64,
    pub to: i64,
    delta: bool,
    data: Arc<str>,
}

impl Change {
    fn between(old: &Snapshot, new: &Snapshot) -> ApiResult<Self> {
        if !Arc::ptr_eq(&old.layout, &new.layout) {
            return Ok(Self {
                from: old.version,
                to: new.version,
                delta: false,
                data: new.status_text().into(),
            });
        }
        let changes = old
            .statuses
            .bytes()
            .zip(new.statuses.bytes())
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(position, (_, b))| (position, char::from(b)))
            .collect();
        let data = serde_json::to_string(&SeatMapDelta {
            from: old.version,
            version: new.version,
            status: new.status.to_owned(),
            available: new.counts.available,
            held: new.counts.held,
            sold: new.counts.sold,
            changes,
        })
        .map_err(internal)?;
        Ok(Self {
            from: old.version,
            to: new.version,
            delta: true,
            data: data.into(),
        })
    }

    fn event(&self) -> Event {
        Event::default()
            .event(if self.delta { "delta" } else { "snapshot" })
            .id(self.to.to_string())
            .data(&*self.data)
    }
}

impl SeatMaps {
    pub fn new(pool: PgPool, settings: SeatMapSettings, metrics: SeatMapMetrics) -> Self {
        Self(Arc::new(Inner {
            pool,
            settings,
            epoch: Instant::now(),
            entries: Mutex::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
            subscribers: AtomicUsize::new(0),
            metrics,
            closing: CancellationToken::new(),
        }))
    }

    pub fn settings(&self) -> &SeatMapSettings {
        &self.0.settings
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The event's map, no older than `refresh`; 404 for an unknown event or a draft.
    pub async fn snapshot(&self, event_id: Uuid) -> ApiResult<Arc<Snapshot>> {
        match self.entry(event_id).await? {
            (entry, true) => Ok(entry.current()),
            (entry, false) => self.fresh(&entry).await,
        }
    }

    fn is_fresh(&self, entry: &Entry) -> bool {
        let refresh = u64::try_from(self.0.settings.refresh.as_millis()).unwrap_or(u64::MAX);
        self.now_ms()
            < entry
                .checked_ms
                .load(Ordering::Acquire)
                .saturating_add(refresh)
    }

    async fn fresh(&self, entry: &Entry) -> ApiResult<Arc<Snapshot>> {
        entry.used_ms.store(self.now_ms(), Ordering::Relaxed);
        if self.is_fresh(entry) {
            self.0.metrics.cache("hit");
            return Ok(entry.current());
        }
        // One request reads the database; the others answer the entry as it is meanwhile (at most
        // that one read older) instead of queueing behind it: during an on-sale the database is
        // busy with holds, and a queue of readers behind one read is what they would see.
        let Ok(_turn) = entry.reload.try_lock() else {
            self.0.metrics.cache("hit");
            return Ok(entry.current());
        };
        if self.is_fresh(entry) {
            self.0.metrics.cache("hit");
            return Ok(entry.current());
        }
        self.0.metrics.cache("checked");
        self.refresh(entry, None).await?;
        Ok(entry.current())
    }

    fn lookup(&self, event_id: Uuid) -> Option<Arc<Entry>> {
        lock(&self.0.entries).get(&event_id).cloned()
    }

    /// The event's entry, and whether it was just read from the database.
    async fn entry(&self, event_id: Uuid) -> ApiResult<(Arc<Entry>, bool)> {
        if let Some(entry) = self.lookup(event_id) {
            return Ok((entry, false));
        }
        let _turn = self.0.loading.lock().await;
        if let Some(entry) = self.lookup(event_id) {
            return Ok((entry, false));
        }
        let checked = self.now_ms();
        let snapshot = self
            .load(event_id)
            .await?
            .ok_or(SeatingError::EventNotFound)?;
        self.0.metrics.cache("loaded");
        let (changes, _) = broadcast::channel(self.0.settings.subscriber_buffer);
        let entry = Arc::new(Entry {
            current: RwLock::new(Arc::new(snapshot)),
            checked_ms: AtomicU64::new(checked),
            used_ms: AtomicU64::new(checked),
            reload: tokio::sync::Mutex::new(()),
            changes,
            history: Mutex::new(VecDeque::new()),
        });
        lock(&self.0.entries).insert(event_id, entry.clone());
        Ok((entry, true))
    }

    /// Reads the layout and the statuses; none for an unknown event or a draft.
    async fn load(&self, event_id: Uuid) -> ApiResult<Option<Snapshot>> {
        let Some((row, seats)) = db::layout(&self.0.pool, event_id).await? else {
            return Ok(None);
        };
        if public_status(row.status, row.sold_out).is_none() {
            return Ok(None);
        }
        let currency = currency_code(row.currency);
        let layout = Layout::new(event_id, row.layout_version, &currency, seats)?;
        Ok(Some(Snapshot::new(event_id, row, Arc::new(layout))?))
    }

    /// Compares the entry with the database (`known`: versions just read) and, when the version
    /// moved, reads it again and publishes the change. The caller holds `entry.reload`.
    async fn refresh(&self, entry: &Entry, known: Option<(Versions, u64)>) -> ApiResult<()> {
        let current = entry.current();
        let event_id = current.event_id;
        let (versions, checked) = if let Some(known) = known {
            known
        } else {
            let checked = self.now_ms();
            let Some(versions) = db::versions(&self.0.pool, &[event_id])
                .await?
                .into_iter()
                .next()
            else {
                return Err(internal(format!("event {event_id} disappeared")));
            };
            (versions, checked)
        };
        if versions.version != current.version {
            let next = match db::statuses(&self.0.pool, event_id).await? {
                Some(row) if row.layout_version == current.layout.version => {
                    Snapshot::new(event_id, row, current.layout.clone())?
                }
                // The layout moved: read it again with the statuses.
                _ => self
                    .load(event_id)
                    .await?
                    .ok_or_else(|| internal(format!("event {event_id} is no longer visible")))?,
            };
            if next.version != current.version {
                let change = Change::between(&current, &next)?;
                self.publish(entry, next, change);
            }
        }
        entry.checked_ms.fetch_max(checked, Ordering::AcqRel);
        Ok(())
    }

    fn publish(&self, entry: &Entry, next: Snapshot, change: Change) {
        let change = Arc::new(change);
        {
            let mut history = lock(&entry.history);
            *entry
                .current
                .write()
                .unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
            history.push_back(change.clone());
            while history.len() > self.0.settings.history {
                history.pop_front();
            }
        }
        // No subscriber is no error.
        let _ = entry.changes.send(change);
    }

    /// One round of the refresher: the versions of every watched event in one statement, then
    /// a reload of those that moved. Drops the entries nobody uses any more. Fails only when
    /// the versions cannot be read (the database is down: the kit restarts the task).
    pub async fn refresh_watched(&self) -> ApiResult<()> {
        let now = self.now_ms();
        let idle = u64::try_from(IDLE.as_millis()).unwrap_or(u64::MAX);
        let watched_for = u64::try_from(WATCHED.as_millis()).unwrap_or(u64::MAX);
        let watched: Vec<(Uuid, Arc<Entry>)> = {
            let mut entries = lock(&self.0.entries);
            entries.retain(|_, e| {
                e.changes.receiver_count() > 0
                    || now.saturating_sub(e.used_ms.load(Ordering::Relaxed)) < idle
            });
            entries
                .iter()
                .filter(|(_, e)| {
                    e.changes.receiver_count() > 0
                        || now.saturating_sub(e.used_ms.load(Ordering::Relaxed)) < watched_for
                })
                .map(|(id, e)| (*id, e.clone()))
                .collect()
        };
        if watched.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = watched.iter().map(|(id, _)| *id).collect();
        let checked = self.now_ms();
        let versions = db::versions(&self.0.pool, &ids).await?;
        for (id, entry) in &watched {
            let Some(v) = versions.iter().find(|v| v.event_id == *id) else {
                continue;
            };
            // A request is refreshing it already.
            let Ok(_turn) = entry.reload.try_lock() else {
                continue;
            };
            // One event that cannot be read (a stored value that is no currency, say) must
            // not stop the others' streams: its requests answer 500, the rest go on.
            if let Err(e) = self.refresh(entry, Some((*v, checked))).await {
                tracing::error!(event_id = %id, error = ?e, "seat map not refreshed");
            }
        }
        Ok(())
    }

    /// The refresher, supervised by the kit; it also ends the streams on the shutdown signal
    /// (the server waits for open connections, and a stream never ends by itself).
    pub fn task(&self) -> Task {
        let maps = self.clone();
        Task::new("seatmap-refresher", move |stop| {
            let maps = maps.clone();
            async move { maps.run(stop).await }
        })
    }

    async fn run(self, stop: CancellationToken) -> anyhow::Result<()> {
        // Twice per bound, so that readers rarely find an entry due and wait for a check.
        let mut tick =
            tokio::time::interval((self.0.settings.refresh / 2).max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let shutdown = service_kit::server::shutdown_signal();
        tokio::pin!(shutdown);
        let mut signalled = false;
        loop {
            tokio::select! {
                () = stop.cancelled() => {
                    self.0.closing.cancel();
                    return Ok(());
                }
                () = &mut shutdown, if !signalled => {
                    signalled = true;
                    self.0.closing.cancel();
                    continue;
                }
                _ = tick.tick() => {}
            }
            self.refresh_watched()
                .await
                .map_err(|e| anyhow::anyhow!("refreshing seat maps: {e:?}"))?;
        }
    }

    /// A new subscriber of the event's changes: 503 beyond `SEATMAP_MAX_SUBSCRIBERS`.
    /// `last_event_id`: the version the client has; the changes since are sent when they are
    /// still in the history, else the whole statuses.
    pub async fn subscribe(
        &self,
        event_id: Uuid,
        last_event_id: Option<i64>,
    ) -> ApiResult<Subscription> {
        let slot = Slot::take(self)?;
        let (entry, loaded) = self.entry(event_id).await?;
        if !loaded {
            self.fresh(&entry).await?;
        }
        // Subscribed before the history is read: a change published in between comes twice
        // (and is skipped by version), none is lost.
        let receiver = entry.changes.subscribe();
        let (pending, last) = {
            let history = lock(&entry.history);
            let current = entry.current();
            let resumed = last_event_id.and_then(|v| {
                if v == current.version {
                    Some(Vec::new())
                } else {
                    let start = history.iter().position(|c| c.from == v)?;
                    Some(history.iter().skip(start).map(|c| c.event()).collect())
                }
            });
            match resumed {
                Some(events) => (events, current.version),
                None => (vec![current.snapshot_event()], current.version),
            }
        };
        self.0.metrics.deltas_sent.inc_by(pending.len() as u64);
        Ok(Subscription {
            receiver,
            pending: pending.into(),
            last,
            entry,
            maps: self.clone(),
            _slot: slot,
        })
    }
}

/// A place among the subscribers; given back when the stream ends.
struct Slot(SeatMaps);

impl Slot {
    fn take(maps: &SeatMaps) -> ApiResult<Self> {
        let inner = &maps.0;
        let max = inner.settings.max_subscribers;
        if inner
            .subscribers
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_err()
        {
            inner.metrics.refused.inc();
            return Err(SeatingError::TooManySubscribers.into());
        }
        inner.metrics.subscribers.inc();
        Ok(Self(maps.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.0.subscribers.fetch_sub(1, Ordering::AcqRel);
        self.0.0.metrics.subscribers.dec();
    }
}

/// One subscriber's stream of changes.
pub struct Subscription {
    receiver: broadcast::Receiver<Arc<Change>>,
    pending: VecDeque<Event>,
    /// The version the subscriber has.
    last: i64,
    entry: Arc<Entry>,
    maps: SeatMaps,
    _slot: Slot,
}

impl Subscription {
    pub fn into_stream(self) -> impl Stream<Item = Result<Event, Infallible>> + Send {
        futures::stream::unfold(self, |mut s| async move {
            s.next_event().await.map(|event| (Ok(event), s))
        })
    }

    async fn next_event(&mut self) -> Option<Event> {
        if let Some(event) = self.pending.pop_front() {
            return Some(event);
        }
        let metrics = &self.maps.0.metrics;
        loop {
            let received = tokio::select! {
                () = self.maps.0.closing.cancelled() => return None,
                received = self.receiver.recv() => received,
            };
            match received {
                Ok(change) if change.to <= self.last => {}
                Ok(change) if change.from == self.last => {
                    self.last = change.to;
                    metrics.deltas_sent.inc();
                    return Some(change.event());
                }
                Ok(_) => {
                    // Not the next change (cannot happen while subscribed): start over.
                    let current = self.entry.current();
                    self.last = current.version;
                    return Some(current.snapshot_event());
                }
                Err(RecvError::Lagged(missed)) => {
                    // Bounded memory: a subscriber this far behind is dropped; it comes back
                    // with Last-Event-ID.
                    metrics.lagged.inc();
                    tracing::info!(missed, "seat map subscriber too slow; dropped");
                    return None;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(prefix: &str, suffixes: &str, count: usize) -> Vec<[u8; 16]> {
        let mut head: Vec<u8> = (0..prefix.len() / 2)
            .map(|i| u8::from_str_radix(&prefix[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let rest = URL_SAFE_NO_PAD.decode(suffixes).unwrap();
        let chunk = 16 - head.len();
        assert_eq!(rest.len(), chunk * count);
        let shared = head.len();
        (0..count)
            .map(|i| {
                head.truncate(shared);
                head.extend_from_slice(&rest[i * chunk..(i + 1) * chunk]);
                head.clone().try_into().unwrap()
            })
            .collect()
    }

    #[test]
    fn ids_round_trip_through_their_shared_prefix() {
        let mut ids: Vec<[u8; 16]> = (0..5).map(|_| *Uuid::now_v7().as_bytes()).collect();
        ids.push(*Uuid::new_v4().as_bytes()); // shares nothing with the others
        for group in [&ids[..1], &ids[..5], &ids[..]] {
            let (prefix, suffixes) = encode_ids(group.iter());
            assert_eq!(decode(&prefix, &suffixes, group.len()), group);
        }
        // One id alone is all prefix; ids made together share their first bytes.
        assert_eq!(encode_ids(ids[..1].iter()).0.len(), 32);
        assert!(encode_ids(ids[..5].iter()).0.len() >= 12);
        assert_eq!(
            encode_ids(std::iter::empty::<&[u8; 16]>()),
            (String::new(), String::new())
        );
    }

    #[test]
    fn counts_and_public_statuses() {
        assert_eq!(
            Counts::of("AAHSSA"),
            Counts {
                available: 3,
                held: 1,
                sold: 2
            }
        );
        assert_eq!(public_status(EventStatus::Draft, false), None);
        assert_eq!(public_status(EventStatus::OnSale, true), Some("SOLD_OUT"));
        assert_eq!(
            public_status(EventStatus::Cancelled, true),
            Some("CANCELLED")
        );
    }
}
