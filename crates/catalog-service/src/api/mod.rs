//! The JSON shapes of catalog-service's API and their validation, one module per resource;
//! here what they share: text fields and paging. The `db` module knows none of these: it takes
//! and returns its own rows, and the `From` impls beside each view map them.

mod events;
mod seats;
mod venues;

pub use events::*;
pub use seats::*;
pub use venues::*;

use serde::{Deserialize, Serialize};
use service_kit::problem::Fields;
use utoipa::ToSchema;

use crate::db::Slice;
use crate::error::ApiError;

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

    /// What the database is asked for.
    pub fn slice(self) -> Slice {
        Slice {
            limit: self.limit,
            offset: self.offset(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_is_bounded() {
        assert!(Paging::parse(None, Some(0)).is_err());
        assert!(Paging::parse(None, Some(101)).is_err());
        assert!(Paging::parse(Some(0), None).is_err());
        let paging = Paging::parse(Some(3), Some(10)).unwrap();
        assert_eq!(paging.offset(), 20);
    }
}
