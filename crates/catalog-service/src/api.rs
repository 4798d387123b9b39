//! The JSON shapes of catalog-service's API, and their validation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::money::{Currency, Money};
use service_kit::problem::Fields;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::{EventStatus, EventType};
use crate::error::ApiError;

/// Most seats one event may have.
pub const MAX_SEATS: usize = 100_000;

/// A text field: trimmed, not empty, at most `max` characters.
pub fn text(raw: &str, max: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".into());
    }
    if trimmed.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(trimmed.to_owned())
}

// ---- venues ----

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueView {
    pub id: Uuid,
    pub name: String,
    pub city: String,
    pub address: Option<String>,
    pub capacity: i32,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueRequest {
    pub name: String,
    pub city: String,
    pub address: Option<String>,
    pub capacity: i64,
}

/// A venue that passed validation.
pub struct NewVenue {
    pub name: String,
    pub city: String,
    pub address: Option<String>,
    pub capacity: i32,
}

impl VenueRequest {
    pub fn validate(&self) -> Result<NewVenue, ApiError> {
        let mut f = Fields::default();
        let name = f.check("name", text(&self.name, 200));
        let city = f.check("city", text(&self.city, 100));
        let address = f.check(
            "address",
            self.address.as_deref().map(|a| text(a, 500)).transpose(),
        );
        let capacity = f.check(
            "capacity",
            i32::try_from(self.capacity)
                .ok()
                .filter(|c| (1..=1_000_000).contains(c))
                .ok_or_else(|| "must be between 1 and 1000000".to_owned()),
        );
        let venue = match (name, city, address, capacity) {
            (Some(name), Some(city), Some(address), Some(capacity)) => Some(NewVenue {
                name,
                city,
                address,
                capacity,
            }),
            _ => None,
        };
        f.finish(venue).map_err(ApiError::Validation)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenuePatch {
    pub name: Option<String>,
    pub city: Option<String>,
    pub address: Option<String>,
    pub capacity: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct VenueQuery {
    pub city: Option<String>,
    pub page: Option<i64>,
    pub limit: Option<i64>,
}

/// Paging of the contract: `page` from 1, `limit` 1 to 100 (default 20).
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: i64,
    pub limit: i64,
}

impl Paging {
    pub fn parse(page: Option<i64>, limit: Option<i64>) -> Result<Self, ApiError> {
        let mut f = Fields::default();
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(20);
        f.require("page", page >= 1, "must be 1 or more");
        f.require(
            "limit",
            (1..=100).contains(&limit),
            "must be between 1 and 100",
        );
        f.finish(Some(Self { page, limit }))
            .map_err(ApiError::Validation)
    }

    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.limit)
    }
}

/// `{"items":[...],"page":1,"limit":20,"total":123}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: i64,
    pub limit: i64,
    pub total: i64,
}

// ---- events ----

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueRef {
    pub id: Uuid,
    pub name: String,
    pub city: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: Uuid,
    pub title: String,
    pub slug: String,
    pub event_type: EventType,
    pub status: EventStatus,
    pub starts_at: DateTime<Utc>,
    #[schema(value_type = String)]
    pub currency: Currency,
    pub base_price: Money,
    pub description: Option<String>,
    pub venue: VenueRef,
    pub organizer_id: Uuid,
    pub seat_count: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// The id in the original system, for imported events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRequest {
    pub title: String,
    pub event_type: String,
    pub venue_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub currency: String,
    pub base_price: Money,
    pub description: Option<String>,
}

pub struct NewEvent {
    pub title: String,
    pub event_type: EventType,
    pub venue_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub currency: Currency,
    pub base_price: Money,
    pub description: Option<String>,
}

impl EventRequest {
    pub fn validate(&self, now: DateTime<Utc>) -> Result<NewEvent, ApiError> {
        let mut f = Fields::default();
        let title = f.check("title", text(&self.title, 200));
        let event_type = f.check("eventType", EventType::parse(&self.event_type));
        f.require("startsAt", self.starts_at > now, "must be in the future");
        let currency = f.check("currency", Currency::parse(&self.currency));
        f.require(
            "basePrice",
            !self.base_price.is_negative(),
            "must not be negative",
        );
        let description = f.check(
            "description",
            self.description
                .as_deref()
                .map(|d| text(d, 5000))
                .transpose(),
        );
        let event = match (title, event_type, currency, description) {
            (Some(title), Some(event_type), Some(currency), Some(description)) => Some(NewEvent {
                title,
                event_type,
                venue_id: self.venue_id,
                starts_at: self.starts_at,
                currency,
                base_price: self.base_price,
                description,
            }),
            _ => None,
        };
        f.finish(event).map_err(ApiError::Validation)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    /// The following only while the event is a draft.
    pub event_type: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub base_price: Option<Money>,
    pub venue_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    pub city: Option<String>,
    /// An event type (concert, theatre, ...).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    pub status: Option<String>,
    /// Starts at or after.
    pub from: Option<DateTime<Utc>>,
    /// Starts before.
    pub to: Option<DateTime<Utc>>,
    /// Words of the title, any case.
    pub q: Option<String>,
    pub venue_id: Option<Uuid>,
    pub page: Option<i64>,
    pub limit: Option<i64>,
}

/// A validated event search.
#[derive(Debug, Default)]
pub struct EventFilter {
    pub city: Option<String>,
    pub event_type: Option<EventType>,
    pub status: Option<EventStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub q: Option<String>,
    pub venue_id: Option<Uuid>,
}

impl EventQuery {
    pub fn validate(&self) -> Result<(EventFilter, Paging), ApiError> {
        let paging = Paging::parse(self.page, self.limit)?;
        let mut f = Fields::default();
        let event_type = f.check(
            "type",
            self.event_type.as_deref().map(EventType::parse).transpose(),
        );
        let status = f.check(
            "status",
            self.status.as_deref().map(EventStatus::parse).transpose(),
        );
        if let (Some(from), Some(to)) = (self.from, self.to) {
            f.require("to", to > from, "must be after `from`");
        }
        let q = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        f.require(
            "q",
            q.is_none_or(|q| q.chars().count() <= 200),
            "must be at most 200 characters",
        );
        let filter = match (event_type, status) {
            (Some(event_type), Some(status)) => Some(EventFilter {
                city: self.city.clone().filter(|c| !c.trim().is_empty()),
                event_type,
                status,
                from: self.from,
                to: self.to,
                q: q.map(str::to_owned),
                venue_id: self.venue_id,
            }),
            _ => None,
        };
        Ok((f.finish(filter).map_err(ApiError::Validation)?, paging))
    }
}

// ---- seats ----

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatsRequest {
    /// Either an explicit list...
    pub seats: Option<Vec<SeatSpec>>,
    /// ...or a layout of sections × rows × seats per row (rows named A, B, …).
    pub layout: Option<Vec<SectionLayout>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatSpec {
    pub section: String,
    pub row: String,
    pub number: i32,
    /// Defaults to the event's basePrice.
    pub price: Option<Money>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SectionLayout {
    pub section: String,
    pub rows: u32,
    pub seats_per_row: u32,
    pub price: Option<Money>,
}

/// One seat to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatDef {
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

impl SeatsRequest {
    /// The seats it describes, priced (`base_price` where none is given).
    pub fn validate(&self, base_price: Money) -> Result<Vec<SeatDef>, ApiError> {
        let seats = match (&self.seats, &self.layout) {
            (Some(list), None) => list
                .iter()
                .map(|s| SeatDef {
                    section: s.section.trim().to_owned(),
                    row: s.row.trim().to_owned(),
                    number: s.number,
                    price: s.price.unwrap_or(base_price),
                })
                .collect::<Vec<_>>(),
            (None, Some(layout)) => expand(layout, base_price)?,
            _ => {
                return Err(ApiError::field(
                    "seats",
                    "send either `seats` (a list) or `layout`, not both",
                ));
            }
        };
        check_seats(&seats)?;
        Ok(seats)
    }
}

fn expand(layout: &[SectionLayout], base_price: Money) -> Result<Vec<SeatDef>, ApiError> {
    // Saturating: absurd sizes must fail the limit below, not wrap around it.
    let total = layout.iter().fold(0u64, |sum, s| {
        sum.saturating_add(u64::from(s.rows).saturating_mul(u64::from(s.seats_per_row)))
    });
    if total > MAX_SEATS as u64 {
        return Err(ApiError::field(
            "layout",
            format!("at most {MAX_SEATS} seats per event"),
        ));
    }
    let mut seats = Vec::new();
    for section in layout {
        for row in 0..section.rows as usize {
            for number in 1..=section.seats_per_row {
                seats.push(SeatDef {
                    section: section.section.trim().to_owned(),
                    row: crate::domain::row_name(row),
                    number: i32::try_from(number).unwrap_or(i32::MAX),
                    price: section.price.unwrap_or(base_price),
                });
            }
        }
    }
    Ok(seats)
}

fn check_seats(seats: &[SeatDef]) -> Result<(), ApiError> {
    let mut f = Fields::default();
    f.require(
        "seats",
        !seats.is_empty(),
        "must describe at least one seat",
    );
    f.require("seats", seats.len() <= MAX_SEATS, "too many seats");
    let mut places = std::collections::HashSet::new();
    for (i, seat) in seats.iter().enumerate() {
        if f.len() > 20 {
            break;
        }
        let at = |name: &str| format!("seats[{i}].{name}");
        f.require(
            &at("section"),
            (1..=50).contains(&seat.section.chars().count()),
            "must be 1 to 50 characters",
        );
        f.require(
            &at("row"),
            (1..=20).contains(&seat.row.chars().count()),
            "must be 1 to 20 characters",
        );
        f.require(&at("number"), seat.number >= 1, "must be 1 or more");
        f.require(
            &at("price"),
            !seat.price.is_negative(),
            "must not be negative",
        );
        if !places.insert((&seat.section, &seat.row, seat.number)) {
            f.push(
                at("number"),
                format!(
                    "duplicate seat {} {} {}",
                    seat.section, seat.row, seat.number
                ),
            );
        }
    }
    f.finish(Some(())).map_err(ApiError::Validation)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatCount {
    pub seat_count: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatView {
    pub seat_id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeatList {
    pub items: Vec<SeatView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn a_layout_expands_to_named_rows_priced_by_section() {
        let request = SeatsRequest {
            seats: None,
            layout: Some(vec![
                SectionLayout {
                    section: "Stalls".into(),
                    rows: 2,
                    seats_per_row: 3,
                    price: None,
                },
                SectionLayout {
                    section: "VIP".into(),
                    rows: 1,
                    seats_per_row: 2,
                    price: Some(money("90.00")),
                },
            ]),
        };
        let seats = request.validate(money("40.00")).unwrap();
        assert_eq!(seats.len(), 8);
        assert_eq!(
            (seats[3].row.as_str(), seats[3].number, seats[3].price),
            ("B", 1, money("40.00"))
        );
        assert_eq!(
            (seats[7].section.as_str(), seats[7].price),
            ("VIP", money("90.00"))
        );
    }

    #[test]
    fn an_absurd_layout_is_refused_not_wrapped() {
        let huge = |rows, seats_per_row| SectionLayout {
            section: "A".into(),
            rows,
            seats_per_row,
            price: None,
        };
        let request = SeatsRequest {
            seats: None,
            layout: Some(vec![huge(u32::MAX, u32::MAX), huge(2_147_483_648, 4)]),
        };
        assert!(matches!(
            request.validate(money("1.00")),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn duplicate_seats_are_refused() {
        let spec = SeatSpec {
            section: "A".into(),
            row: "1".into(),
            number: 1,
            price: None,
        };
        let request = SeatsRequest {
            seats: Some(vec![spec.clone(), spec]),
            layout: None,
        };
        assert!(matches!(
            request.validate(money("1.00")),
            Err(ApiError::Validation(_))
        ));
    }

    #[test]
    fn paging_is_bounded() {
        assert!(Paging::parse(None, Some(0)).is_err());
        assert!(Paging::parse(None, Some(101)).is_err());
        assert!(Paging::parse(Some(0), None).is_err());
        let paging = Paging::parse(Some(3), Some(10)).unwrap();
        assert_eq!(paging.offset(), 20);
    }
}
