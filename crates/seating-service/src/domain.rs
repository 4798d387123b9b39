//! Validated seating values and the hold's state machine. No axum, no sqlx.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The seats of one hold: 1 to 10, all different.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatSelection(Vec<Uuid>);

impl SeatSelection {
    pub const MAX: usize = 10;

    pub fn parse(ids: &[Uuid]) -> Result<Self, String> {
        if ids.is_empty() {
            return Err("must name at least one seat".into());
        }
        if ids.len() > Self::MAX {
            return Err(format!("at most {} seats can be held at once", Self::MAX));
        }
        let mut sorted = ids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != ids.len() {
            return Err("must not name a seat twice".into());
        }
        // Sorted: every claim touches rows in the same order.
        Ok(Self(sorted))
    }

    pub fn ids(&self) -> &[Uuid] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How long a hold lasts: 1 second to 1 hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldTtl(Duration);

impl HoldTtl {
    /// A service may ask for 1 second to 1 hour; a buyer at most `default`, so that nobody can
    /// keep seats from the others longer than the shop intends.
    pub fn parse(seconds: Option<u64>, default: Duration, service: bool) -> Result<Self, String> {
        let longest = if service { 3600 } else { default.as_secs() };
        match seconds {
            None => Ok(Self(default)),
            Some(s) if (1..=longest).contains(&s) => Ok(Self(Duration::from_secs(s))),
            Some(_) => Err(format!("must be between 1 and {longest} seconds")),
        }
    }

    pub fn duration(self) -> Duration {
        self.0
    }
}

/// A hold's life: `ACTIVE` until released, allocated to an order, or expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HoldStatus {
    Active,
    Released,
    Expired,
    Allocated,
}

impl HoldStatus {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "ACTIVE" => Ok(Self::Active),
            "RELEASED" => Ok(Self::Released),
            "EXPIRED" => Ok(Self::Expired),
            "ALLOCATED" => Ok(Self::Allocated),
            other => Err(format!("unknown hold status `{other}`")),
        }
    }

    /// What the hold is now: an `ACTIVE` hold past its expiry is `EXPIRED` whether or not the
    /// sweeper has written it down yet.
    #[must_use]
    pub fn effective(self, expired: bool) -> Self {
        match self {
            Self::Active if expired => Self::Expired,
            other => other,
        }
    }
}

impl fmt::Display for HoldStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Active => "ACTIVE",
            Self::Released => "RELEASED",
            Self::Expired => "EXPIRED",
            Self::Allocated => "ALLOCATED",
        })
    }
}

/// How rows are read (`db` stores it with `text_column!`): an unknown value fails the read,
/// naming it, rather than becoming an active hold.
impl TryFrom<String> for HoldStatus {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

/// An event as seating knows it: `DRAFT` while a publication sends its seats (nothing can be
/// held), `ON_SALE` from the request that opens it (or from a first inventory sent without a
/// publication), `CANCELLED` for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Draft,
    OnSale,
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "DRAFT",
            Self::OnSale => "ON_SALE",
            Self::Cancelled => "CANCELLED",
        }
    }
}

impl fmt::Display for EventStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for EventStatus {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        match raw.as_str() {
            "DRAFT" => Ok(Self::Draft),
            "ON_SALE" => Ok(Self::OnSale),
            "CANCELLED" => Ok(Self::Cancelled),
            _ => Err(format!("unknown event status `{raw}`")),
        }
    }
}

/// A seat as buyers see it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum SeatStatus {
    Available,
    Held,
    Sold,
}

impl SeatStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Available => "AVAILABLE",
            Self::Held => "HELD",
            Self::Sold => "SOLD",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "AVAILABLE" => Ok(Self::Available),
            "HELD" => Ok(Self::Held),
            "SOLD" => Ok(Self::Sold),
            _ => Err("must be AVAILABLE, HELD or SOLD".into()),
        }
    }
}

impl fmt::Display for SeatStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How rows are read (the status is computed in SQL; `db` reads it with `text_column!`).
impl TryFrom<String> for SeatStatus {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).map_err(|_| format!("unknown seat status `{raw}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<Uuid> {
        (0..n).map(|_| Uuid::now_v7()).collect()
    }

    #[test]
    fn a_selection_has_one_to_ten_distinct_seats() {
        assert!(SeatSelection::parse(&[]).is_err());
        assert!(SeatSelection::parse(&ids(10)).is_ok());
        assert!(SeatSelection::parse(&ids(11)).is_err());
        let one = Uuid::now_v7();
        assert!(SeatSelection::parse(&[one, one]).is_err());
    }

    #[test]
    fn a_selection_is_sorted() {
        let mut seats = ids(5);
        seats.reverse();
        let selection = SeatSelection::parse(&seats).unwrap();
        assert!(selection.ids().windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_ttl_is_bounded_and_a_buyer_cannot_exceed_the_default() {
        let default = Duration::from_secs(900);
        for service in [true, false] {
            assert_eq!(
                HoldTtl::parse(None, default, service).unwrap().duration(),
                default
            );
            assert_eq!(
                HoldTtl::parse(Some(1), default, service)
                    .unwrap()
                    .duration(),
                Duration::from_secs(1)
            );
            assert!(HoldTtl::parse(Some(0), default, service).is_err());
            assert!(HoldTtl::parse(Some(3601), default, service).is_err());
        }
        assert!(HoldTtl::parse(Some(3600), default, true).is_ok());
        assert!(HoldTtl::parse(Some(901), default, false).is_err());
        assert!(HoldTtl::parse(Some(900), default, false).is_ok());
    }

    #[test]
    fn stored_values_that_are_no_status_fail_naming_them() {
        for err in [
            HoldStatus::try_from("PENDING".to_owned()).unwrap_err(),
            EventStatus::try_from("PENDING".to_owned()).unwrap_err(),
            SeatStatus::try_from("PENDING".to_owned()).unwrap_err(),
        ] {
            assert!(err.contains("`PENDING`"), "{err}");
        }
        assert_eq!(
            HoldStatus::try_from("ACTIVE".to_owned()),
            Ok(HoldStatus::Active)
        );
    }

    #[test]
    fn an_active_hold_past_expiry_reads_expired() {
        assert_eq!(HoldStatus::Active.effective(true), HoldStatus::Expired);
        assert_eq!(HoldStatus::Active.effective(false), HoldStatus::Active);
        assert_eq!(HoldStatus::Allocated.effective(true), HoldStatus::Allocated);
    }
}
