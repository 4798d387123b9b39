//! Catalogue values and the event's life. No axum, no sqlx.

use std::fmt;

use serde::{Deserialize, Serialize};
use service_kit::money::Money;

/// `DRAFT → ON_SALE → SOLD_OUT ⇄ ON_SALE`, and any → `CANCELLED` (final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventStatus {
    Draft,
    OnSale,
    SoldOut,
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::OnSale => "ON_SALE",
            Self::SoldOut => "SOLD_OUT",
            Self::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "DRAFT" => Ok(Self::Draft),
            "ON_SALE" => Ok(Self::OnSale),
            "SOLD_OUT" => Ok(Self::SoldOut),
            "CANCELLED" => Ok(Self::Cancelled),
            _ => Err("must be DRAFT, ON_SALE, SOLD_OUT or CANCELLED".into()),
        }
    }

    /// Whether the public may see it.
    pub fn published(self) -> bool {
        self != Self::Draft
    }
}

/// How rows are read (`db` stores it with `text_column!`): a value the database's CHECK should
/// never have let in fails the read, naming it, rather than becoming some other status.
impl TryFrom<String> for EventStatus {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).map_err(|_| format!("unknown event status `{raw}`"))
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of event; lower case on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Concert,
    Theatre,
    Comedy,
    Conference,
    Workshop,
    Sport,
    Festival,
    Other,
}

impl EventType {
    pub const ALL: [Self; 8] = [
        Self::Concert,
        Self::Theatre,
        Self::Comedy,
        Self::Conference,
        Self::Workshop,
        Self::Sport,
        Self::Festival,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Concert => "concert",
            Self::Theatre => "theatre",
            Self::Comedy => "comedy",
            Self::Conference => "conference",
            Self::Workshop => "workshop",
            Self::Sport => "sport",
            Self::Festival => "festival",
            Self::Other => "other",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == raw)
            .ok_or_else(|| {
                "must be one of concert, theatre, comedy, conference, workshop, sport, festival, other"
                    .into()
            })
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How rows are read (`db` stores it with `text_column!`): an unknown type fails the read, naming
/// it.
impl TryFrom<String> for EventType {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).map_err(|_| format!("unknown event type `{raw}`"))
    }
}

/// One seat of an event's map, as defined (validated) and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatDef {
    pub section: String,
    pub row: String,
    pub number: i32,
    pub price: Money,
}

/// Row names of a layout: A, B, …, Z, AA, AB, … (spreadsheet columns).
pub fn row_name(index: usize) -> String {
    let mut n = index + 1;
    let mut name = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        name.push(b'A' + u8::try_from(rem).unwrap_or(0));
        n = (n - 1) / 26;
    }
    name.reverse();
    String::from_utf8(name).unwrap_or_default()
}

/// A URL-friendly name, unique thanks to a suffix from the id.
pub fn slug_for(title: &str, id: uuid::Uuid) -> String {
    let base = slug::slugify(title);
    let base: String = base.chars().take(80).collect();
    let suffix = &id.simple().to_string()[24..];
    if base.is_empty() {
        format!("event-{suffix}")
    } else {
        format!("{base}-{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_named_like_spreadsheet_columns() {
        assert_eq!(row_name(0), "A");
        assert_eq!(row_name(25), "Z");
        assert_eq!(row_name(26), "AA");
        assert_eq!(row_name(27), "AB");
        assert_eq!(row_name(701), "ZZ");
        assert_eq!(row_name(702), "AAA");
    }

    #[test]
    fn slugs_are_readable_and_unique() {
        let id = uuid::Uuid::now_v7();
        let slug = slug_for("Zoë's Jazz Night!", id);
        assert!(slug.starts_with("zoe-s-jazz-night-"), "{slug}");
        assert_ne!(slug, slug_for("Zoë's Jazz Night!", uuid::Uuid::now_v7()));
        assert!(slug_for("!!!", id).starts_with("event-"));
    }

    #[test]
    fn only_drafts_are_private() {
        assert!(!EventStatus::Draft.published());
        assert!(EventStatus::SoldOut.published());
        assert_eq!(EventStatus::parse("ON_SALE").unwrap(), EventStatus::OnSale);
        assert!(EventStatus::parse("SCHEDULED").is_err());
    }

    #[test]
    fn a_stored_value_that_is_no_status_or_type_fails_naming_it() {
        let status = EventStatus::try_from("SCHEDULED".to_owned()).unwrap_err();
        assert!(status.contains("`SCHEDULED`"), "{status}");
        let kind = EventType::try_from("opera".to_owned()).unwrap_err();
        assert!(kind.contains("`opera`"), "{kind}");
        assert_eq!(
            EventType::try_from("theatre".to_owned()),
            Ok(EventType::Theatre)
        );
    }
}
