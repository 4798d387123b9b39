//! `catalog-service import-etsr DIR`: the original system's venues, events and seats.
//!
//! The dataset has real defects; each meets a decision, counted in the report, never a crash:
//! - duplicate seats (same event, section, row and number under another id): the first is kept,
//!   the others rejected;
//! - prices with float artefacts (`542.5899999999999`): rounded half-up to the cent;
//! - dates without a time zone: read as India Standard Time (UTC+05:30), since every venue of
//!   the dataset is in an Indian city (and prices are in rupees, INR);
//! - statuses the API does not have (`SCHEDULED`: announced, not on sale): imported as `DRAFT`;
//! - a title that names another type than `event_type` ("Workshop #200", Concert): the
//!   `event_type` column is kept (it is the structured field), the disagreement counted.
//!
//! - seats sold in the original system (listed in `etsr_tickets.csv`): kept in the catalogue (they
//!   are part of the venue's map) but not offered again: only events on sale go to seating, and
//!   without their sold seats; sold-out events are not offered at all. order-service's import
//!   of orders and tickets will record those sales.
//!
//! Every row keeps its original id as `legacy_id` = `etsr:<entity>:<id>` (`etsr:venue:3`,
//! `etsr:event:12`, `etsr:seat:4711`), unique, so a re-run updates instead of duplicating. The
//! importers of users, orders, tickets and payments (in their services, later) use the same
//! scheme for their own rows and map `etsr:event:<id>` / `etsr:seat:<id>` to our ids; the event
//! read answers `legacyId`, and a lookup by legacy id for seats is still to be added.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use service_kit::money::{Currency, Money};
use uuid::Uuid;

use crate::db::events::{EventFields, EventRow};
use crate::db::venues::LegacyVenue;
use crate::db::{events, seats, venues};
use crate::domain::{EventStatus, EventType, SeatDef, slug_for};
use crate::state::AppState;

/// Imported events belong to no organizer account: admins manage them.
pub const IMPORT_ORGANIZER: Uuid = Uuid::nil();
const CURRENCY: &str = "INR";
const IST_SECONDS: i32 = 5 * 3600 + 30 * 60;

/// What happened to the rows of one file.
#[derive(Debug, Default, Clone)]
pub struct FileReport {
    pub read: u64,
    /// New rows.
    pub imported: u64,
    /// Rows already imported by an earlier run, refreshed.
    pub updated: u64,
    pub rejected: BTreeMap<String, u64>,
    /// Rows imported after a correction, by correction.
    pub corrected: BTreeMap<String, u64>,
}

impl FileReport {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    fn reject(&mut self, reason: &str) {
        *self.rejected.entry(reason.to_owned()).or_default() += 1;
    }

    fn correct(&mut self, what: &str) {
        *self.corrected.entry(what.to_owned()).or_default() += 1;
    }
}

#[derive(Debug, Default, Clone)]
pub struct Report {
    pub venues: FileReport,
    pub events: FileReport,
    pub seats: FileReport,
    pub pushed_events: u64,
    pub pushed_seats: u64,
    /// Seats of events on sale not offered: sold in the original system.
    pub sold_seats_held_back: u64,
    pub sold_out_not_pushed: u64,
    pub push_failures: BTreeMap<String, u64>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<18} {:>6} {:>9} {:>8} {:>9}",
            "file", "read", "imported", "updated", "rejected"
        )?;
        let files = [
            ("etsr_venues.csv", &self.venues),
            ("etsr_events.csv", &self.events),
            ("etsr_seats.csv", &self.seats),
        ];
        for (name, r) in files {
            writeln!(
                f,
                "{name:<18} {:>6} {:>9} {:>8} {:>9}",
                r.read,
                r.imported,
                r.updated,
                r.rejected_total()
            )?;
        }
        for (name, r) in files {
            for (reason, n) in &r.rejected {
                writeln!(f, "  rejected  {name}: {n} {reason}")?;
            }
            for (what, n) in &r.corrected {
                writeln!(f, "  corrected {name}: {n} {what}")?;
            }
        }
        writeln!(
            f,
            "inventory pushed to seating: {} seats of {} events on sale; {} seats held back (sold \
             in the original system, etsr_tickets.csv); {} sold-out events not offered",
            self.pushed_seats,
            self.pushed_events,
            self.sold_seats_held_back,
            self.sold_out_not_pushed
        )?;
        for (reason, n) in &self.push_failures {
            writeln!(f, "  NOT pushed: {n} events: {reason}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct VenueCsv {
    venue_id: String,
    name: String,
    city: String,
    capacity: String,
}

#[derive(Deserialize)]
struct EventCsv {
    event_id: String,
    venue_id: String,
    title: String,
    event_type: String,
    event_date: String,
    base_price: String,
    status: String,
}

#[derive(Deserialize)]
struct TicketCsv {
    seat_id: String,
}

#[derive(Deserialize)]
struct SeatCsv {
    seat_id: String,
    event_id: String,
    section: String,
    row: String,
    seat_number: String,
    price: String,
}

fn read<T: for<'de> Deserialize<'de>>(
    dir: &Path,
    file: &str,
    report: &mut FileReport,
) -> anyhow::Result<Vec<T>> {
    let path = dir.join(file);
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("opening {}", path.display()))?;
    let mut rows = Vec::new();
    for record in reader.deserialize() {
        report.read += 1;
        match record {
            Ok(row) => rows.push(row),
            Err(_) => report.reject("unreadable row"),
        }
    }
    Ok(rows)
}

/// Imports `dir`'s venues, events and seats; idempotent.
pub async fn run(state: &AppState, dir: &Path) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let venues = import_venues(state, dir, &mut report.venues).await?;
    let events = import_events(state, dir, &venues, &mut report.events).await?;
    import_seats(state, dir, &events, &mut report.seats).await?;
    push_published(state, dir, &events, &mut report).await?;
    Ok(report)
}

async fn import_venues(
    state: &AppState,
    dir: &Path,
    report: &mut FileReport,
) -> anyhow::Result<HashMap<String, Uuid>> {
    let mut ids = HashMap::new();
    for row in read::<VenueCsv>(dir, "etsr_venues.csv", report)? {
        let capacity = row.capacity.trim().parse::<i32>().ok().filter(|c| *c > 0);
        let (Some(capacity), false, false) = (
            capacity,
            row.name.trim().is_empty(),
            row.city.trim().is_empty(),
        ) else {
            report.reject("missing name or city, or capacity not a positive number");
            continue;
        };
        let (id, inserted) = venues::upsert_legacy(
            &state.pool,
            &LegacyVenue {
                id: Uuid::now_v7(),
                name: row.name.trim(),
                city: row.city.trim(),
                capacity,
                legacy_id: &format!("etsr:venue:{}", row.venue_id.trim()),
            },
        )
        .await?;
        count(report, inserted);
        ids.insert(row.venue_id.trim().to_owned(), id);
    }
    Ok(ids)
}

fn count(report: &mut FileReport, inserted: bool) {
    if inserted {
        report.imported += 1;
    } else {
        report.updated += 1;
    }
}

/// The original system's type names.
fn legacy_type(raw: &str) -> Option<EventType> {
    match raw.trim().to_lowercase().as_str() {
        "concert" => Some(EventType::Concert),
        "conference" => Some(EventType::Conference),
        "play" | "theatre" | "theater" => Some(EventType::Theatre),
        "sports" | "sport" => Some(EventType::Sport),
        "stand-up" | "standup" | "comedy" => Some(EventType::Comedy),
        "workshop" => Some(EventType::Workshop),
        _ => None,
    }
}

fn legacy_status(raw: &str) -> Option<(EventStatus, bool)> {
    match raw.trim() {
        "ON_SALE" => Some((EventStatus::OnSale, false)),
        "SOLD_OUT" => Some((EventStatus::SoldOut, false)),
        "CANCELLED" => Some((EventStatus::Cancelled, false)),
        "DRAFT" => Some((EventStatus::Draft, false)),
        "SCHEDULED" => Some((EventStatus::Draft, true)),
        _ => None,
    }
}

/// A local date-time of the original system, in IST.
fn legacy_date(raw: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(raw.trim(), "%Y-%m-%d %H:%M:%S").ok()?;
    let ist = FixedOffset::east_opt(IST_SECONDS)?;
    naive
        .and_local_timezone(ist)
        .single()
        .map(|d| d.with_timezone(&Utc))
}

/// A legacy amount: rounded half-up to the cent when it has more decimals; `true` if rounded.
fn legacy_money(raw: &str) -> Option<(Money, bool)> {
    let value: Decimal = raw.trim().parse().ok()?;
    let money = Money::from_decimal_rounded(value).ok()?;
    (!money.is_negative()).then_some((money, money.decimal() != value.normalize()))
}

async fn import_events(
    state: &AppState,
    dir: &Path,
    venues: &HashMap<String, Uuid>,
    report: &mut FileReport,
) -> anyhow::Result<HashMap<String, Uuid>> {
    let currency = Currency::parse(CURRENCY).map_err(anyhow::Error::msg)?;
    let mut ids = HashMap::new();
    for row in read::<EventCsv>(dir, "etsr_events.csv", report)? {
        let Some(venue_id) = venues.get(row.venue_id.trim()).copied() else {
            report.reject("unknown venue");
            continue;
        };
        let Some(event_type) = legacy_type(&row.event_type) else {
            report.reject("unknown event type");
            continue;
        };
        let Some((status, mapped)) = legacy_status(&row.status) else {
            report.reject("unknown status");
            continue;
        };
        let Some(starts_at) = legacy_date(&row.event_date) else {
            report.reject("unreadable date");
            continue;
        };
        let Some((base_price, rounded)) = legacy_money(&row.base_price) else {
            report.reject("base price not a non-negative amount");
            continue;
        };
        let title = row.title.trim();
        if title.is_empty() {
            report.reject("empty title");
            continue;
        }
        report.correct("date without time zone read as IST (UTC+05:30)");
        if mapped {
            report.correct("status SCHEDULED imported as DRAFT");
        }
        if rounded {
            report.correct("base price rounded half-up to the cent");
        }
        let titled = title.split_whitespace().next().and_then(legacy_type);
        if titled.is_some_and(|t| t != event_type) {
            report.correct("title names another type than event_type (event_type kept)");
        }
        let id = Uuid::now_v7();
        let (id, inserted) = events::upsert(
            &state.pool,
            &EventFields {
                id,
                title,
                slug: &slug_for(title, id),
                event_type,
                status,
                starts_at,
                currency,
                base_price,
                description: None,
                venue_id,
                organizer_id: IMPORT_ORGANIZER,
                legacy_id: Some(&format!("etsr:event:{}", row.event_id.trim())),
            },
        )
        .await?;
        count(report, inserted);
        ids.insert(row.event_id.trim().to_owned(), id);
    }
    Ok(ids)
}

async fn import_seats(
    state: &AppState,
    dir: &Path,
    events: &HashMap<String, Uuid>,
    report: &mut FileReport,
) -> anyhow::Result<()> {
    // Per event: the seats to write, in file order.
    let mut by_event: BTreeMap<Uuid, Vec<(String, SeatDef)>> = BTreeMap::new();
    let mut places: HashSet<(Uuid, String, String, i32)> = HashSet::new();
    for row in read::<SeatCsv>(dir, "etsr_seats.csv", report)? {
        let Some(event_id) = events.get(row.event_id.trim()).copied() else {
            report.reject("unknown event");
            continue;
        };
        let Some(number) = row
            .seat_number
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|n| *n > 0)
        else {
            report.reject("seat number not a positive number");
            continue;
        };
        let Some((price, rounded)) = legacy_money(&row.price) else {
            report.reject("price not a non-negative amount");
            continue;
        };
        let (section, seat_row) = (row.section.trim().to_owned(), row.row.trim().to_owned());
        if section.is_empty() || seat_row.is_empty() {
            report.reject("empty section or row");
            continue;
        }
        if !places.insert((event_id, section.clone(), seat_row.clone(), number)) {
            report.reject("duplicate place (same event, section, row and number as an earlier seat): first kept");
            continue;
        }
        if rounded {
            report.correct("price rounded half-up to the cent");
        }
        by_event.entry(event_id).or_default().push((
            format!("etsr:seat:{}", row.seat_id.trim()),
            SeatDef {
                section,
                row: seat_row,
                number,
                price,
            },
        ));
    }
    for (event_id, rows) in by_event {
        let legacy: Vec<String> = rows.iter().map(|(l, _)| l.clone()).collect();
        let defs: Vec<SeatDef> = rows.into_iter().map(|(_, d)| d).collect();
        let existing = seats::count_legacy(&state.pool, &legacy).await?;
        let ids: Vec<Uuid> = defs.iter().map(|_| Uuid::now_v7()).collect();
        let written =
            seats::insert_batch(&state.pool, event_id, &ids, &defs, Some(&legacy)).await?;
        let existing = u64::try_from(existing).unwrap_or(0);
        report.updated += existing;
        report.imported += written.saturating_sub(existing);
        let total = seats::count(&state.pool, event_id).await?;
        events::set_seat_count(
            &state.pool,
            event_id,
            i32::try_from(total).unwrap_or(i32::MAX),
        )
        .await?;
    }
    Ok(())
}

/// The legacy ids of the seats sold in the original system (empty without `etsr_tickets.csv`).
fn sold_seats(dir: &Path) -> anyhow::Result<HashSet<String>> {
    let path = dir.join("etsr_tickets.csv");
    if !path.exists() {
        return Ok(HashSet::new());
    }
    let mut reader =
        csv::Reader::from_path(&path).with_context(|| format!("opening {}", path.display()))?;
    Ok(reader
        .deserialize::<TicketCsv>()
        .filter_map(Result::ok)
        .map(|t| format!("etsr:seat:{}", t.seat_id.trim()))
        .collect())
}

async fn push_published(
    state: &AppState,
    dir: &Path,
    ids: &HashMap<String, Uuid>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let sold = sold_seats(dir)?;
    for id in ids.values() {
        let Some(event): Option<EventRow> = events::find(&state.pool, *id).await? else {
            continue;
        };
        match event.status {
            EventStatus::OnSale => {}
            EventStatus::SoldOut => {
                report.sold_out_not_pushed += 1;
                continue;
            }
            _ => continue,
        }
        let (offered, held_back): (Vec<_>, Vec<_>) = seats::list(&state.pool, event.id)
            .await?
            .into_iter()
            .partition(|seat| seat.legacy_id.as_ref().is_none_or(|l| !sold.contains(l)));
        report.sold_seats_held_back += held_back.len() as u64;
        match crate::events::open_in_seating(state, &event, &offered).await {
            Ok(()) => {
                report.pushed_events += 1;
                report.pushed_seats += offered.len() as u64;
            }
            Err(e) => {
                *report.push_failures.entry(e.to_string()).or_default() += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_prices_round_half_up() {
        assert_eq!(
            legacy_money("542.5899999999999").unwrap(),
            (Money::parse("542.59").unwrap(), true)
        );
        assert_eq!(
            legacy_money("2602.9").unwrap(),
            (Money::parse("2602.90").unwrap(), false)
        );
        assert!(legacy_money("-1").is_none());
        assert!(legacy_money("abc").is_none());
    }

    #[test]
    fn legacy_dates_are_ist() {
        let d = legacy_date("2025-06-07 20:35:51").unwrap();
        assert_eq!(d.to_rfc3339(), "2025-06-07T15:05:51+00:00");
        assert!(legacy_date("07/06/2025").is_none());
    }

    #[test]
    fn legacy_types_and_statuses_map() {
        assert_eq!(legacy_type("Stand-up"), Some(EventType::Comedy));
        assert_eq!(legacy_type("Play"), Some(EventType::Theatre));
        assert_eq!(legacy_status("SCHEDULED"), Some((EventStatus::Draft, true)));
        assert_eq!(legacy_status("LIVE"), None);
    }
}
