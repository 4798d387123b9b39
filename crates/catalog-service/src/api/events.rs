//! Events: their views, creation, edits, search and cancellation.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::money::{Currency, Money};
use service_kit::problem::Fields;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Paging, text};
use crate::db::events::{EventFilter, EventRow};
use crate::domain::{EventStatus, EventType};
use crate::error::ApiError;

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

impl From<EventRow> for EventView {
    fn from(e: EventRow) -> Self {
        Self {
            status: e.status,
            event_type: e.event_type,
            id: e.id,
            title: e.title,
            slug: e.slug,
            starts_at: e.starts_at,
            currency: e.currency,
            base_price: e.base_price,
            description: e.description,
            venue: VenueRef {
                id: e.venue_id,
                name: e.venue_name,
                city: e.venue_city,
            },
            organizer_id: e.organizer_id,
            seat_count: e.seat_count,
            cancel_reason: e.cancel_reason,
            legacy_id: e.legacy_id,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventRequest {
    /// 1 to 200 characters, trimmed.
    #[schema(max_length = 200, pattern = r"\S")]
    pub title: String,
    #[schema(value_type = EventType)]
    pub event_type: String,
    /// A venue that exists (422 otherwise).
    pub venue_id: Uuid,
    /// In the future (422 otherwise).
    pub starts_at: DateTime<Utc>,
    #[schema(value_type = Currency)]
    pub currency: String,
    pub base_price: Money,
    /// 1 to 5000 characters, trimmed.
    #[schema(max_length = 5000, pattern = r"\S")]
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
    #[schema(max_length = 200, pattern = r"\S")]
    pub title: Option<String>,
    #[schema(max_length = 5000, pattern = r"\S")]
    pub description: Option<String>,
    /// The following only while the event is a draft (409 otherwise).
    #[schema(value_type = Option<EventType>)]
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
    #[param(rename = "type", value_type = Option<EventType>)]
    pub event_type: Option<String>,
    #[param(value_type = Option<EventStatus>)]
    pub status: Option<String>,
    /// Starts at or after.
    pub from: Option<DateTime<Utc>>,
    /// Starts before.
    pub to: Option<DateTime<Utc>>,
    /// Words of the title, any case; at most 200 characters (trimmed).
    #[param(max_length = 200)]
    pub q: Option<String>,
    pub venue_id: Option<Uuid>,
    pub page: Option<i64>,
    pub limit: Option<i64>,
}

impl EventQuery {
    /// The search it describes, and the page asked for.
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    /// 1 to 500 characters, trimmed.
    #[schema(max_length = 500, pattern = r"\S")]
    pub reason: String,
}
