//! The contract's paging: `page` (from 1) and `limit` (default 20, max 100) in, and
//! `{"items":[...],"page":1,"limit":20,"total":123}` out.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::problem::{FieldError, Fields};

pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;

/// A valid page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub page: i64,
    pub limit: i64,
}

impl Paging {
    /// From the query's `page` and `limit`, each optional: 422 naming each bad one.
    pub fn parse(page: Option<i64>, limit: Option<i64>) -> Result<Self, Vec<FieldError>> {
        let mut f = Fields::default();
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        f.require("page", page >= 1, "must be 1 or more");
        f.require(
            "limit",
            (1..=MAX_LIMIT).contains(&limit),
            "must be between 1 and 100",
        );
        f.finish(Some(Self { page, limit }))
    }

    /// Rows to skip.
    pub fn offset(self) -> i64 {
        (self.page - 1).saturating_mul(self.limit)
    }

    /// The answer: this page's items and the total over all pages.
    pub fn page_of<T>(self, items: Vec<T>, total: i64) -> Page<T> {
        Page {
            items,
            page: self.page,
            limit: self.limit,
            total,
        }
    }
}

/// One page of a list.
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
    fn defaults_bounds_and_offsets() {
        assert_eq!(
            Paging::parse(None, None).unwrap(),
            Paging { page: 1, limit: 20 }
        );
        assert_eq!(Paging::parse(Some(3), Some(10)).unwrap().offset(), 20);
        let errors = Paging::parse(Some(0), Some(101)).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["page", "limit"]);
    }
}
