//! `catalog-service seed-demo`: a realistic catalogue for demos and benchmarks.
//!
//! Deterministic for a given seed and start date: the same arguments make the same venues,
//! events, prices and seat maps (ids included), and a re-run with the same arguments changes
//! nothing (rows carry `legacy_id` = `demo:<seed>:...` and existing ones are left alone; other
//! sizes under the same seed need a fresh catalogue). Rows are written with batched multi-row inserts, so
//! a benchmark catalogue (10 000 events, 1 000 000 seats) takes seconds; publishing pushes each
//! event's seats to seating, a few events at a time.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeZone, Utc};
use futures::StreamExt;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use service_kit::money::{Currency, Money};
use uuid::Uuid;

use crate::db::events::{self, EventFields};
use crate::db::seats::{self, PlacedSeat};
use crate::db::venues::{self, LegacyVenue};
use crate::domain::{EventStatus, EventType, SeatDef, row_name, slug_for};
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct Options {
    pub venues: usize,
    pub events: usize,
    pub seats_per_event: usize,
    pub seed: u64,
    /// Dates are drawn from the year after this day.
    pub from: DateTime<Utc>,
    /// Push seats to seating and put events on sale (otherwise they stay drafts).
    pub publish: bool,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub venues: usize,
    pub events: usize,
    pub seats: usize,
    pub published: usize,
    pub write_time: Duration,
    pub publish_time: Duration,
}

const CITIES: &[&str] = &[
    "Lisbon",
    "Porto",
    "Madrid",
    "Barcelona",
    "Paris",
    "Lyon",
    "Berlin",
    "Hamburg",
    "Munich",
    "Vienna",
    "Prague",
    "Amsterdam",
    "Brussels",
    "London",
    "Manchester",
    "Dublin",
    "Copenhagen",
    "Stockholm",
    "Oslo",
    "Helsinki",
    "Milan",
    "Rome",
    "Warsaw",
    "Budapest",
    "Zurich",
];
const VENUE_WORDS: &[&str] = &[
    "Aurora",
    "Harbour",
    "Royal",
    "Riverside",
    "Phoenix",
    "Grand",
    "Union",
    "Olympia",
    "Lyric",
    "Metropol",
];
const VENUE_KINDS: &[&str] = &[
    "Hall",
    "Theatre",
    "Arena",
    "Playhouse",
    "Auditorium",
    "Club",
    "Pavilion",
];
const CURRENCY: &str = "EUR";

fn titles(event_type: EventType) -> (&'static [&'static str], (i64, i64)) {
    // Title stems and the base price range in euros.
    match event_type {
        EventType::Concert => (
            &[
                "Jazz Night",
                "Symphony No. 5",
                "Indie Showcase",
                "Piano Recital",
                "Rock Revival",
            ],
            (25, 120),
        ),
        EventType::Theatre => (
            &[
                "Hamlet",
                "The Seagull",
                "A Doll's House",
                "Waiting for Godot",
                "Cyrano",
            ],
            (20, 90),
        ),
        EventType::Comedy => (
            &[
                "Stand-up Gala",
                "Late Laughs",
                "Improv Jam",
                "Comedy Marathon",
            ],
            (15, 45),
        ),
        EventType::Conference => (
            &["RustConf", "Data Summit", "Design Days", "Cloud Forum"],
            (90, 400),
        ),
        EventType::Workshop => (
            &[
                "Pottery Basics",
                "Intro to Photography",
                "Creative Writing",
                "Sourdough Lab",
            ],
            (30, 120),
        ),
        EventType::Sport => (
            &[
                "Derby Night",
                "Basketball Finals",
                "Boxing Gala",
                "Volleyball Cup",
            ],
            (20, 150),
        ),
        EventType::Festival => (
            &["Summer Fest", "Film Festival", "Food & Wine Fair"],
            (40, 200),
        ),
        EventType::Other => (&["Magic Show", "Circus of Lights", "Poetry Slam"], (10, 60)),
    }
}

/// Sections of a venue: name, price in percent of the event's base price, share of the seats
/// in percent.
const SECTIONS: &[(&str, u32, u32)] = &[
    ("VIP", 180, 10),
    ("Stalls", 100, 50),
    ("Circle", 75, 25),
    ("Balcony", 50, 15),
];

/// A version 7 id (as everywhere in the fleet) whose time and randomness come from the seeded
/// generator, so the same seed gives the same ids.
fn uuid(rng: &mut StdRng) -> Uuid {
    let millis = rng.gen_range(1_700_000_000_000..1_800_000_000_000);
    let random: [u8; 10] = rng.r#gen();
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

struct Venue {
    id: Uuid,
    name: String,
    city: &'static str,
}

struct Show {
    id: Uuid,
    title: String,
    event_type: EventType,
    starts_at: DateTime<Utc>,
    base_price: Money,
    venue: usize,
}

/// Generates and writes the catalogue; publishes it when asked.
pub async fn run(state: &AppState, options: &Options) -> anyhow::Result<Outcome> {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let started = Instant::now();
    let venues = write_venues(state, options, &mut rng).await?;
    let events = make_events(options, venues.len(), &mut rng);
    write_events(state, options, &venues, &events).await?;
    let seats = write_seats(state, options, &events).await?;
    let write_time = started.elapsed();

    let started = Instant::now();
    let published = if options.publish {
        publish_all(state, &events).await?
    } else {
        0
    };
    Ok(Outcome {
        venues: venues.len(),
        events: events.len(),
        seats,
        published,
        write_time,
        publish_time: started.elapsed(),
    })
}

async fn write_venues(
    state: &AppState,
    options: &Options,
    rng: &mut StdRng,
) -> anyhow::Result<Vec<Venue>> {
    let venues: Vec<Venue> = (0..options.venues)
        .map(|_| Venue {
            id: uuid(rng),
            name: format!(
                "{} {}",
                VENUE_WORDS.choose(rng).unwrap_or(&"Grand"),
                VENUE_KINDS.choose(rng).unwrap_or(&"Hall")
            ),
            city: CITIES.choose(rng).unwrap_or(&"Lisbon"),
        })
        .collect();
    let legacy: Vec<String> = (0..venues.len())
        .map(|i| format!("demo:{}:venue:{i}", options.seed))
        .collect();
    let capacity = i32::try_from(options.seats_per_event)
        .unwrap_or(i32::MAX)
        .max(1);
    let rows: Vec<LegacyVenue<'_>> = venues
        .iter()
        .zip(&legacy)
        .map(|(v, legacy_id)| LegacyVenue {
            id: v.id,
            name: &v.name,
            city: v.city,
            capacity,
            legacy_id,
        })
        .collect();
    venues::insert_legacy_batch(&state.pool, &rows).await?;
    Ok(venues)
}

fn make_events(options: &Options, venues: usize, rng: &mut StdRng) -> Vec<Show> {
    let day = Utc
        .with_ymd_and_hms(
            options.from.year(),
            options.from.month(),
            options.from.day(),
            0,
            0,
            0,
        )
        .single()
        .unwrap_or(options.from);
    (0..options.events)
        .map(|i| {
            let event_type = *EventType::ALL.choose(rng).unwrap_or(&EventType::Other);
            let (stems, (low, high)) = titles(event_type);
            let stem = stems.choose(rng).unwrap_or(&"Show");
            let venue = rng.gen_range(0..venues.max(1));
            let days = rng.gen_range(1..=365);
            let hour = [18, 19, 20, 21][rng.gen_range(0..4)];
            Show {
                id: uuid(rng),
                title: format!("{stem} #{}", i + 1),
                event_type,
                starts_at: day + chrono::Duration::days(days) + chrono::Duration::hours(hour),
                base_price: Money::from_minor(rng.gen_range(low..=high) * 100),
                venue,
            }
        })
        .collect()
}

async fn write_events(
    state: &AppState,
    options: &Options,
    venues: &[Venue],
    events: &[Show],
) -> anyhow::Result<()> {
    let currency = Currency::parse(CURRENCY).map_err(anyhow::Error::msg)?;
    for (batch_no, batch) in events.chunks(1_000).enumerate() {
        let slugs: Vec<String> = batch.iter().map(|e| slug_for(&e.title, e.id)).collect();
        let legacy: Vec<String> = (0..batch.len())
            .map(|i| format!("demo:{}:event:{}", options.seed, batch_no * 1_000 + i))
            .collect();
        let rows: Vec<EventFields<'_>> = batch
            .iter()
            .zip(&slugs)
            .zip(&legacy)
            .map(|((e, slug), legacy_id)| EventFields {
                id: e.id,
                title: &e.title,
                slug,
                event_type: e.event_type,
                status: EventStatus::Draft,
                starts_at: e.starts_at,
                currency,
                base_price: e.base_price,
                description: None,
                venue_id: venues[e.venue].id,
                organizer_id: super::import_etsr::IMPORT_ORGANIZER,
                legacy_id: Some(legacy_id),
            })
            .collect();
        events::insert_legacy_batch(&state.pool, &rows).await?;
    }
    Ok(())
}

/// The seat map of one event: sections by tier, rows of up to 20.
fn seat_map(event: &Show, seats: usize) -> Vec<SeatDef> {
    let mut map = Vec::with_capacity(seats);
    let mut remaining = seats;
    for (i, (section, percent, share)) in SECTIONS.iter().enumerate() {
        let count = if i == SECTIONS.len() - 1 {
            remaining
        } else {
            (seats * *share as usize / 100).min(remaining)
        };
        remaining -= count;
        let price = event.base_price.percent_half_up(*percent);
        for n in 0..count {
            map.push(SeatDef {
                section: (*section).to_owned(),
                row: row_name(n / 20),
                number: i32::try_from(n % 20 + 1).unwrap_or(1),
                price,
            });
        }
    }
    map
}

async fn write_seats(
    state: &AppState,
    options: &Options,
    events: &[Show],
) -> anyhow::Result<usize> {
    let mut total = 0;
    // About 20 000 seats per statement.
    let per_batch = (20_000 / options.seats_per_event.max(1)).max(1);
    for batch in events.chunks(per_batch) {
        let maps: Vec<(Uuid, Vec<SeatDef>)> = batch
            .iter()
            .map(|event| (event.id, seat_map(event, options.seats_per_event)))
            .collect();
        let mut seats = Vec::new();
        for (event_id, map) in &maps {
            for seat in map {
                // Seat ids derive from the event's, so re-runs keep them.
                let mut bytes = *event_id.as_bytes();
                let n = u32::try_from(seats.len() % 1_000_000)
                    .unwrap_or(0)
                    .to_be_bytes();
                bytes[12..16].copy_from_slice(&n);
                seats.push(PlacedSeat {
                    id: Uuid::from_bytes(bytes),
                    event_id: *event_id,
                    seat,
                });
            }
        }
        total += seats.len();
        seats::insert_placed_batch(&state.pool, &seats).await?;
        let batch_ids: Vec<Uuid> = batch.iter().map(|e| e.id).collect();
        events::set_seat_counts(
            &state.pool,
            &batch_ids,
            i32::try_from(options.seats_per_event).unwrap_or(i32::MAX),
        )
        .await?;
    }
    Ok(total)
}

/// Publishes each draft as the API does (`events::publish_event`), eight events at a time.
async fn publish_all(state: &AppState, generated: &[Show]) -> anyhow::Result<usize> {
    // The ids first: a stream over a borrowing iterator makes the future not `Send`.
    let ids: Vec<Uuid> = generated.iter().map(|e| e.id).collect();
    let results: Vec<anyhow::Result<bool>> = futures::stream::iter(ids)
        .map(|id| async move {
            let Some(event) = events::find(&state.pool, id).await? else {
                return Ok(false);
            };
            if event.status != EventStatus::Draft {
                return Ok(false);
            }
            // The command's operator may publish any event.
            crate::events::publish_event(state, id, Ok)
                .await
                .map_err(|e| anyhow::anyhow!("publishing {id}: {e}"))?;
            Ok(true)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut published = 0;
    for result in results {
        if result? {
            published += 1;
        }
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_makes_the_same_catalogue() {
        let options = Options {
            venues: 3,
            events: 5,
            seats_per_event: 40,
            seed: 7,
            from: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
            publish: false,
        };
        let a = make_events(&options, 3, &mut StdRng::seed_from_u64(7));
        let b = make_events(&options, 3, &mut StdRng::seed_from_u64(7));
        let titles = |e: &[Show]| {
            e.iter()
                .map(|e| (e.id, e.title.clone(), e.starts_at, e.base_price))
                .collect::<Vec<_>>()
        };
        assert_eq!(titles(&a), titles(&b));
        assert!(a.iter().all(|e| e.starts_at > options.from));
    }

    #[test]
    fn seat_maps_have_tiers_and_every_seat() {
        let event = Show {
            id: Uuid::nil(),
            title: "x".into(),
            event_type: EventType::Concert,
            starts_at: Utc::now(),
            base_price: Money::parse("40.00").unwrap(),
            venue: 0,
        };
        let map = seat_map(&event, 120);
        assert_eq!(map.len(), 120);
        let vip = map.iter().find(|s| s.section == "VIP").unwrap();
        let balcony = map.iter().find(|s| s.section == "Balcony").unwrap();
        assert_eq!(vip.price, Money::parse("72.00").unwrap());
        assert_eq!(balcony.price, Money::parse("20.00").unwrap());
        let places: std::collections::HashSet<_> =
            map.iter().map(|s| (&s.section, &s.row, s.number)).collect();
        assert_eq!(places.len(), 120);
    }
}
