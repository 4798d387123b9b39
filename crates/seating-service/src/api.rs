//! The JSON shapes of seating-service's API, and their validation into domain values.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::money::{Currency, Money};
use service_kit::problem::FieldError;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::seats::{HeldSeatRow, NewSeat};
use crate::domain::{HoldStatus, HoldTtl, SeatSelection, SeatStatus};
use crate::error::ApiError;

/// The most seats one inventory request may carry (bodies are limited to 1 MiB; larger venues
/// send several requests, which the upsert makes safe).
pub const MAX_INVENTORY_SEATS: usize = 5_000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryRequest {
    #[schema(value_type = Currency, example = "EUR")]
    pub currency: String,
    /// 1 to 5000 seats, each seat id and each place (section, row, number) once.
    #[schema(min_items = 1, max_items = 5000)]
    pub seats: Vec<InventorySeat>,
    /// The publication these seats belong to. With one, a new event waits as a draft (nothing
    /// can be held) until the publication's last request opens it; without, it is on sale at
    /// once (as before publications existed).
    pub publication_id: Option<Uuid>,
    /// On the publication's last request: put the event on sale, after removing the seats that
    /// no request of this publication sent (left by an earlier one that failed). Only with
    /// `publicationId`.
    #[serde(default)]
    pub open: bool,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventorySeat {
    pub seat_id: Uuid,
    /// 1 to 50 characters, trimmed.
    #[schema(max_length = 50, pattern = r"\S")]
    pub section: String,
    /// 1 to 20 characters, trimmed.
    #[schema(max_length = 20, pattern = r"\S")]
    pub row: String,
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "service_kit::integer::whole")]
    pub number: i32,
    pub price: Money,
}

/// An inventory that passed validation.
pub struct Inventory {
    pub currency: Currency,
    pub seats: Vec<NewSeat>,
    pub publication: Option<Publication>,
}

/// A request of a publication.
#[derive(Debug, Clone, Copy)]
pub struct Publication {
    pub id: Uuid,
    /// Its last request: open the event.
    pub open: bool,
}

impl InventoryRequest {
    pub fn validate(self) -> Result<Inventory, ApiError> {
        let mut errors = Vec::new();
        let currency = Currency::parse(&self.currency)
            .map_err(|m| errors.push(FieldError::new("currency", m)))
            .ok();
        if self.seats.is_empty() || self.seats.len() > MAX_INVENTORY_SEATS {
            errors.push(FieldError::new(
                "seats",
                format!(
                    "must hold 1 to {MAX_INVENTORY_SEATS} seats; send more in further requests"
                ),
            ));
        }
        if self.open && self.publication_id.is_none() {
            errors.push(FieldError::new(
                "open",
                "only a publication is opened: send `publicationId` too",
            ));
        }
        let mut ids = std::collections::HashSet::new();
        let mut places = std::collections::HashSet::new();
        for (i, seat) in self.seats.iter().enumerate() {
            let field = |name: &str| format!("seats[{i}].{name}");
            if !ids.insert(seat.seat_id) {
                errors.push(FieldError::new(field("seatId"), "appears twice"));
            }
            if !places.insert((seat.section.trim(), seat.row.trim(), seat.number)) {
                errors.push(FieldError::new(
                    field("number"),
                    "another seat has the same section, row and number",
                ));
            }
            if !(1..=50).contains(&seat.section.trim().chars().count()) {
                errors.push(FieldError::new(
                    field("section"),
                    "must be 1 to 50 characters",
                ));
            }
            if !(1..=20).contains(&seat.row.trim().chars().count()) {
                errors.push(FieldError::new(field("row"), "must be 1 to 20 characters"));
            }
            if seat.number < 1 {
                errors.push(FieldError::new(field("number"), "must be 1 or more"));
            }
            if seat.price.is_negative() {
                errors.push(FieldError::new(field("price"), "must not be negative"));
            }
            if errors.len() > 50 {
                break; // enough to fix the request
            }
        }
        match currency {
            Some(currency) if errors.is_empty() => Ok(Inventory {
                currency,
                // Stored trimmed, as they were compared.
                seats: self
                    .seats
                    .into_iter()
                    .map(|s| NewSeat {
                        id: s.seat_id,
                        section: s.section.trim().to_owned(),
                        row: s.row.trim().to_owned(),
                        number: s.number,
                        price: s.price,
                    })
                    .collect(),
                publication: self.publication_id.map(|id| Publication {
                    id,
                    open: self.open,
                }),
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryView {
    pub event_id: Uuid,
    #[schema(value_type = String)]
    pub currency: Currency,
    /// Seats of the event after the upsert.
    pub seat_count: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReserveRequest {
    pub event_id: Uuid,
    /// 1 to 10 distinct seats of the event.
    #[schema(schema_with = seat_ids_schema)]
    pub seat_ids: Vec<Uuid>,
    pub holder_id: Uuid,
    /// Defaults to HOLD_TTL_SECONDS (900). A service may ask for 1 to 3600; a buyer for at most
    /// the default.
    #[schema(minimum = 1, maximum = 3600)]
    #[serde(default, deserialize_with = "service_kit::integer::optional_whole")]
    pub ttl_seconds: Option<u64>,
}

fn seat_ids_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    service_kit::openapi::distinct_ids(1, SeatSelection::MAX)
}

pub struct Reservation {
    pub event_id: Uuid,
    pub seats: SeatSelection,
    pub holder_id: Uuid,
    pub ttl: HoldTtl,
}

impl ReserveRequest {
    /// `service`: whether a service asks (it may choose a longer TTL than a buyer).
    pub fn validate(
        &self,
        default_ttl: std::time::Duration,
        service: bool,
    ) -> Result<Reservation, ApiError> {
        let mut errors = Vec::new();
        let seats = SeatSelection::parse(&self.seat_ids)
            .map_err(|m| errors.push(FieldError::new("seatIds", m)))
            .ok();
        let ttl = HoldTtl::parse(self.ttl_seconds, default_ttl, service)
            .map_err(|m| errors.push(FieldError::new("ttlSeconds", m)))
            .ok();
        match (seats, ttl) {
            (Some(seats), Some(ttl)) => Ok(Reservation {
                event_id: self.event_id,
                seats,
                holder_id: self.holder_id,
                ttl,
            }),
            _ => Err(ApiError::Validation(errors)),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeldSeat {
    pub seat_id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

impl From<HeldSeatRow> for HeldSeat {
    fn from(s: HeldSeatRow) -> Self {
        Self {
            seat_id: s.id,
            section: s.section,
            row: s.row,
            number: s.number,
            price: s.price,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldView {
    pub hold_id: Uuid,
    pub event_id: Uuid,
    pub holder_id: Uuid,
    pub status: HoldStatus,
    pub expires_at: DateTime<Utc>,
    pub seats: Vec<HeldSeat>,
    #[schema(value_type = String)]
    pub currency: Currency,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseRequest {
    pub hold_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AllocateRequest {
    pub hold_id: Uuid,
    pub order_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReturnRequest {
    pub event_id: Uuid,
    #[schema(min_items = 1, max_items = 100)]
    pub seat_ids: Vec<Uuid>,
    pub order_id: Uuid,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReturnView {
    pub event_id: Uuid,
    pub order_id: Uuid,
    /// Seats this call made available again (empty when repeated).
    pub returned: Vec<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SeatQuery {
    pub event_id: Uuid,
    #[param(value_type = Option<SeatStatus>)]
    pub status: Option<String>,
    pub section: Option<String>,
    /// From 1 (default 1).
    #[param(minimum = 1)]
    pub page: Option<i64>,
    /// 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatView {
    pub seat_id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
    pub status: SeatStatus,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatList {
    pub event_id: Uuid,
    pub currency: String,
    /// This page's seats, by section, row and number.
    pub items: Vec<SeatView>,
    pub page: i64,
    pub limit: i64,
    /// Seats matching the filters, over all pages.
    pub total: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMap {
    pub event_id: Uuid,
    pub currency: String,
    /// ON_SALE, SOLD_OUT or CANCELLED.
    pub status: String,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    pub sections: Vec<SectionView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SectionView {
    pub section: String,
    pub available: i64,
    pub rows: Vec<RowView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RowView {
    pub row: String,
    pub seats: Vec<SeatMapSeat>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapSeat {
    pub seat_id: Uuid,
    pub number: i32,
    pub price: Money,
    pub status: SeatStatus,
}

/// The changing part of the seat map, a few bytes per seat (`GET .../seatmap/status`, and the
/// `snapshot` events of the stream).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapStatus {
    pub event_id: Uuid,
    /// Moves with every hold, release, expiry, sale, return and change of the event's status.
    pub version: i64,
    /// The layout these statuses follow (`GET .../seatmap/layout?v=`).
    pub layout_version: i64,
    /// ON_SALE, SOLD_OUT or CANCELLED.
    pub status: String,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    /// One character per seat in layout order: `A` available, `H` held, `S` sold.
    #[schema(example = "AAHHSA")]
    pub statuses: String,
}

/// The static part of the seat map: where each seat is, what it costs, its id. Positions
/// (0, 1, 2, …) count the seats of every row in order, section after section.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapLayout {
    pub event_id: Uuid,
    pub layout_version: i64,
    pub currency: String,
    pub seat_count: usize,
    /// The distinct prices; rows name them by index.
    pub prices: Vec<Money>,
    pub sections: Vec<LayoutSection>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LayoutSection {
    pub section: String,
    pub rows: Vec<LayoutRow>,
}

/// A row's seats, in order. Seat `i` of the row has number `numbers[i]`, price
/// `prices[priceIndexes[i]]`, and id `idPrefix` (hex) followed by the `i`-th chunk of
/// `idSuffixes` (base64url without padding of the concatenated remaining bytes, `16 -
/// idPrefix.len() / 2` bytes per seat): ids created together share their first bytes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LayoutRow {
    pub row: String,
    pub numbers: Vec<i32>,
    pub price_indexes: Vec<usize>,
    pub id_prefix: String,
    pub id_suffixes: String,
}

/// One change of the map in the stream: the seats whose status changed since `from`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatMapDelta {
    pub from: i64,
    pub version: i64,
    pub status: String,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    /// `[position, "A" | "H" | "S"]` pairs: a number and a letter.
    #[schema(value_type = Vec<Vec<Value>>)]
    pub changes: Vec<(usize, char)>,
}

/// One Server-Sent Event of the stream, for the document (OpenAPI describes each event of a
/// `text/event-stream` as an object of its fields): `event: snapshot` carries a
/// [`SeatMapStatus`] as its JSON `data`, `event: delta` a [`SeatMapDelta`]; `id` is the version.
#[derive(Serialize, ToSchema)]
pub struct SeatMapStreamEvent {
    #[schema(pattern = "^(snapshot|delta)$")]
    pub event: Option<String>,
    /// The event's seat version, for `Last-Event-ID`.
    pub id: Option<String>,
    /// JSON: a `SeatMapStatus` (snapshot) or a `SeatMapDelta` (delta).
    pub data: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LayoutQuery {
    /// The layout version the caller wants (from the status); the current one is answered
    /// either way, cacheable for ever when it is this one.
    pub v: Option<i64>,
}
