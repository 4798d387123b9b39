//! An event's seats: their definition (a list or a layout) and the canonical list.

use serde::{Deserialize, Serialize};
use service_kit::money::Money;
use service_kit::problem::Fields;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::db::seats::SeatRow;
use crate::domain::{SeatDef, row_name};
use crate::error::ApiError;

/// Most seats one event may have.
pub const MAX_SEATS: usize = 100_000;

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
    #[schema(max_length = 50, pattern = r"\S")]
    pub section: String,
    #[schema(max_length = 20, pattern = r"\S")]
    pub row: String,
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "service_kit::integer::whole")]
    pub number: i32,
    /// Defaults to the event's basePrice.
    pub price: Option<Money>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SectionLayout {
    #[schema(max_length = 50, pattern = r"\S")]
    pub section: String,
    /// Rows × seats per row of all sections: 1 to 100 000 seats.
    #[schema(minimum = 1, maximum = 100_000)]
    #[serde(deserialize_with = "service_kit::integer::whole")]
    pub rows: u32,
    #[schema(minimum = 1, maximum = 100_000)]
    #[serde(deserialize_with = "service_kit::integer::whole")]
    pub seats_per_row: u32,
    pub price: Option<Money>,
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
                    row: row_name(row),
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

impl From<SeatRow> for SeatView {
    fn from(s: SeatRow) -> Self {
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
pub struct SeatList {
    pub items: Vec<SeatView>,
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
}
