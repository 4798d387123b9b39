//! The seat map as the event page draws it: seating's compact layout (fetched once per layout
//! version and kept) and its one-letter-per-seat statuses.
//!
//! The page names seats by **position** (their index in layout order), which keeps a
//! 2 000-seat page small; the storefront turns positions back into seat ids from the same
//! layout version when the buyer orders.
//!
//! [`SeatMaps`] keeps what every visitor's event page shares: the statuses for a moment, and
//! the seat rows drawn and compressed once per version.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde::{Deserialize, Serialize};
use service_kit::money::Money;
use uuid::Uuid;

use crate::client::{ApiError, Fleet};
use crate::error::PageError;
use crate::gzip;
use crate::recent::Recent;
use crate::render;

/// `GET /v1/events/{id}/seatmap/status`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeatStatus {
    pub version: i64,
    pub layout_version: i64,
    pub status: String,
    pub available: u32,
    pub held: u32,
    pub sold: u32,
    /// `A`, `H` or `S` per seat, in layout order.
    pub statuses: String,
}

/// `GET /v1/events/{id}/seatmap/layout?v=`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layout {
    pub layout_version: i64,
    pub currency: String,
    pub prices: Vec<String>,
    pub sections: Vec<LayoutSection>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LayoutSection {
    pub section: String,
    pub rows: Vec<LayoutRow>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutRow {
    pub row: String,
    pub numbers: Vec<i32>,
    pub price_indexes: Vec<usize>,
    pub id_prefix: String,
    pub id_suffixes: String,
}

/// A layout with its seat ids decoded and its prices parsed, ready to draw and to order from.
#[derive(Debug)]
pub struct SeatLayout {
    pub version: i64,
    pub currency: String,
    pub prices: Vec<Money>,
    pub sections: Vec<LayoutSection>,
    /// Seat ids by position.
    pub seat_ids: Vec<Uuid>,
}

impl SeatLayout {
    pub fn decode(layout: Layout) -> Result<Self, String> {
        let prices = layout
            .prices
            .iter()
            .map(|p| Money::parse(p).map_err(|e| format!("price {p}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seat_ids = Vec::new();
        for row in layout.sections.iter().flat_map(|s| &s.rows) {
            seat_ids.extend(row_ids(row)?);
            if row.price_indexes.len() != row.numbers.len()
                || row.price_indexes.iter().any(|&i| i >= prices.len())
            {
                return Err(format!(
                    "row {} has prices that do not match its seats",
                    row.row
                ));
            }
        }
        Ok(Self {
            version: layout.layout_version,
            currency: layout.currency,
            prices,
            sections: layout.sections,
            seat_ids,
        })
    }

    /// The seat ids at these positions; `None` when one is outside the layout.
    pub fn seats_at(&self, positions: &[usize]) -> Option<Vec<Uuid>> {
        positions
            .iter()
            .map(|&p| self.seat_ids.get(p).copied())
            .collect()
    }

    /// A seat as a buyer names it: `Stalls A-12`.
    pub fn label_of(&self, id: Uuid) -> Option<String> {
        let mut position = self.seat_ids.iter().position(|&s| s == id)?;
        for section in &self.sections {
            for row in &section.rows {
                if let Some(number) = row.numbers.get(position) {
                    return Some(format!("{} {}-{number}", section.section, row.row));
                }
                position -= row.numbers.len();
            }
        }
        None
    }

    /// The lowest and highest price, for the event lists.
    pub fn price_range(&self) -> Option<(Money, Money)> {
        let min = self.prices.iter().copied().min_by_key(|m| m.minor())?;
        let max = self.prices.iter().copied().max_by_key(|m| m.minor())?;
        Some((min, max))
    }

    /// What the event page draws: sections, rows, seats with their position and whether they
    /// can be chosen now.
    pub fn view(&self, statuses: &str) -> MapView {
        let statuses = statuses.as_bytes();
        let mut position = 0;
        let sections = self
            .sections
            .iter()
            .map(|section| SectionView {
                name: section.section.clone(),
                rows: section
                    .rows
                    .iter()
                    .map(|row| {
                        let mut seats = String::with_capacity(row.numbers.len() * 90);
                        for (&number, &price) in row.numbers.iter().zip(&row.price_indexes) {
                            let free = statuses.get(position) == Some(&b'A');
                            seat_markup(&mut seats, position, number, price, free);
                            position += 1;
                        }
                        let mut prices: Vec<usize> = row.price_indexes.clone();
                        prices.sort_unstable();
                        prices.dedup();
                        RowView {
                            name: row.row.clone(),
                            prices: prices
                                .iter()
                                .map(|&i| self.prices[i].to_string())
                                .collect::<Vec<_>>()
                                .join(" / "),
                            seats,
                        }
                    })
                    .collect(),
            })
            .collect();
        MapView {
            sections,
            prices: self.prices.iter().map(ToString::to_string).collect(),
            prices_minor: self.prices.iter().map(|p| p.minor()).collect(),
        }
    }
}

/// Decodes a row's ids: `idPrefix` (hex) followed by each seat's base64url chunk.
fn row_ids(row: &LayoutRow) -> Result<Vec<Uuid>, String> {
    let bad = || format!("row {} has malformed seat ids", row.row);
    let prefix = decode_hex(&row.id_prefix).ok_or_else(bad)?;
    let suffixes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&row.id_suffixes)
        .map_err(|_| bad())?;
    let per_seat = 16usize.checked_sub(prefix.len()).ok_or_else(bad)?;
    if suffixes.len() != per_seat * row.numbers.len() {
        return Err(bad());
    }
    if per_seat == 0 {
        let id = Uuid::from_slice(&prefix).map_err(|_| bad())?;
        return Ok(vec![id; row.numbers.len()]);
    }
    suffixes
        .chunks(per_seat)
        .map(|chunk| {
            let mut bytes = prefix.clone();
            bytes.extend_from_slice(chunk);
            Uuid::from_slice(&bytes).map_err(|_| bad())
        })
        .collect()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[derive(Debug, Serialize)]
pub struct MapView {
    pub sections: Vec<SectionView>,
    pub prices: Vec<String>,
    /// The same prices in minor units, for the page's script that adds up the choice.
    pub prices_minor: Vec<i64>,
}

#[derive(Debug, Serialize)]
pub struct SectionView {
    pub name: String,
    pub rows: Vec<RowView>,
}

#[derive(Debug, Serialize)]
pub struct RowView {
    pub name: String,
    /// The row's price(s), for the row's label.
    pub prices: String,
    /// The row's seats as markup (see [`seat_markup`]), which the template writes as it is.
    pub seats: String,
}

/// One seat as the page draws it: a checkbox named by the seat's position, its price index, and
/// `disabled` when it cannot be chosen, then its number as the label. Written here rather than
/// in the template: for 2 000 seats the template's loop cost more CPU than all the rest of the
/// page (docs/performance.md, "storefront: the event page under an on-sale"). Only numbers go
/// in, so there is nothing to escape.
fn seat_markup(out: &mut String, position: usize, number: i32, price: usize, free: bool) {
    use std::fmt::Write;
    let disabled = if free { "" } else { " disabled" };
    // Writing into a String cannot fail.
    let _ = write!(
        out,
        "<input type=checkbox name=seat value={position} id=s{position} data-p={price}{disabled}>\
         <label for=s{position}>{number}</label>"
    );
}

/// Layouts by (event, layout version): a version never changes, so an entry is never stale.
#[derive(Clone)]
struct Layouts {
    cache: Arc<quick_cache::sync::Cache<(Uuid, i64), Arc<SeatLayout>>>,
}

impl Default for Layouts {
    fn default() -> Self {
        // A few hundred events' layouts: a 2 000-seat one is about 100 KB decoded.
        Self {
            cache: Arc::new(quick_cache::sync::Cache::new(512)),
        }
    }
}

impl Layouts {
    async fn get(
        &self,
        fleet: &Fleet,
        event: Uuid,
        version: i64,
    ) -> Result<Arc<SeatLayout>, ApiError> {
        if let Some(layout) = self.cache.get(&(event, version)) {
            return Ok(layout);
        }
        let layout = fleet.layout(event, version).await?;
        let layout =
            Arc::new(
                SeatLayout::decode(layout).map_err(|reason| ApiError::Unreachable {
                    service: "seat map",
                    reason,
                })?,
            );
        // Seating answers the current layout when `version` is no longer current: keep it
        // under the version it really is.
        self.cache.insert((event, layout.version), layout.clone());
        Ok(layout)
    }
}

/// The seat rows of one status version, as every visitor's event page carries them.
pub struct DrawnMap {
    pub layout: Arc<SeatLayout>,
    /// The prices as shown, and in minor units for the page's script.
    pub prices: Vec<String>,
    pub prices_minor: Vec<i64>,
    /// The sections and their seats as markup (`seatmap.html`), compressed once.
    pub rows: Arc<gzip::Shared>,
}

/// Seating's maps as the pages use them, shared by every visitor: layouts for ever, statuses
/// for `fresh_for` (`EVENT_PAGE_REFRESH_MS`), and the drawn rows per status version.
#[derive(Clone)]
pub struct SeatMaps {
    layouts: Layouts,
    statuses: Arc<Recent<SeatStatus>>,
    drawn: Arc<quick_cache::sync::Cache<(Uuid, i64, i64), Arc<DrawnMap>>>,
}

impl SeatMaps {
    pub fn new(fresh_for: Duration) -> Self {
        Self {
            layouts: Layouts::default(),
            statuses: Arc::new(Recent::new(4096, fresh_for)),
            // The current version of the events being looked at, and the one before.
            drawn: Arc::new(quick_cache::sync::Cache::new(64)),
        }
    }

    /// The event's statuses, at most `fresh_for` old (the page's script catches up from the
    /// stream).
    pub async fn status(&self, fleet: &Fleet, event: Uuid) -> Result<Arc<SeatStatus>, ApiError> {
        self.statuses.get(event, || fleet.seat_status(event)).await
    }

    /// The event's seats just changed through this storefront (the visitor's order): its next
    /// page shows the change instead of the statuses kept from before.
    pub fn changed(&self, event: Uuid) {
        self.statuses.forget(event);
    }

    pub async fn layout(
        &self,
        fleet: &Fleet,
        event: Uuid,
        version: i64,
    ) -> Result<Arc<SeatLayout>, ApiError> {
        self.layouts.get(fleet, event, version).await
    }

    /// The rows for `status`, drawn by the first request that needs this version while the
    /// others wait for it.
    pub async fn drawn(
        &self,
        fleet: &Fleet,
        event: Uuid,
        status: &SeatStatus,
    ) -> Result<Arc<DrawnMap>, PageError> {
        let key = (event, status.version, status.layout_version);
        self.drawn
            .get_or_insert_async(&key, async {
                let layout = self.layout(fleet, event, status.layout_version).await?;
                let view = layout.view(&status.statuses);
                let rows = render::fragment(
                    "seatmap.html",
                    minijinja::context! { sections => &view.sections, currency => &layout.currency },
                )
                .ok_or_else(|| PageError::Internal("the seat rows did not render".into()))?;
                Ok(Arc::new(DrawnMap {
                    layout,
                    prices: view.prices,
                    prices_minor: view.prices_minor,
                    rows: Arc::new(gzip::Shared::new(rows)),
                }))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        let a = Uuid::parse_str("0193a1b2-0000-7000-8000-00000000a001").unwrap();
        let b = Uuid::parse_str("0193a1b2-0000-7000-8000-00000000a002").unwrap();
        let mut suffixes = a.as_bytes()[12..].to_vec();
        suffixes.extend_from_slice(&b.as_bytes()[12..]);
        serde_json::from_value(serde_json::json!({
            "layoutVersion": 3, "currency": "EUR", "prices": ["45.00", "60.50"],
            "sections": [{ "section": "Stalls", "rows": [{
                "row": "A", "numbers": [1, 2], "priceIndexes": [0, 1],
                "idPrefix": &a.simple().to_string()[..24],
                "idSuffixes": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&suffixes),
            }]}]
        }))
        .unwrap()
    }

    #[test]
    fn positions_turn_back_into_the_seat_ids_of_the_layout() {
        let layout = SeatLayout::decode(layout()).unwrap();
        assert_eq!(
            layout.seats_at(&[1, 0]).unwrap(),
            vec![
                Uuid::parse_str("0193a1b2-0000-7000-8000-00000000a002").unwrap(),
                Uuid::parse_str("0193a1b2-0000-7000-8000-00000000a001").unwrap(),
            ]
        );
        assert_eq!(layout.seats_at(&[2]), None);
        let second = layout.seat_ids[1];
        assert_eq!(layout.label_of(second).as_deref(), Some("Stalls A-2"));
        let (min, max) = layout.price_range().unwrap();
        assert_eq!(
            (min.to_string(), max.to_string()),
            ("45.00".into(), "60.50".into())
        );
    }

    #[test]
    fn the_view_marks_only_available_seats_as_free() {
        let view = SeatLayout::decode(layout()).unwrap().view("AH");
        assert_eq!(
            view.sections[0].rows[0].seats,
            "<input type=checkbox name=seat value=0 id=s0 data-p=0><label for=s0>1</label>\
             <input type=checkbox name=seat value=1 id=s1 data-p=1 disabled><label for=s1>2</label>"
        );
        assert_eq!(view.sections[0].rows[0].prices, "45.00 / 60.50");
        assert_eq!(view.prices_minor, vec![4500, 6050]);
    }

    #[test]
    fn malformed_ids_are_refused() {
        let mut bad = layout();
        bad.sections[0].rows[0].id_suffixes.push_str("AA");
        assert!(SeatLayout::decode(bad).is_err());
    }
}
