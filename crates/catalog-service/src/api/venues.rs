//! Venues.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::problem::Fields;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::text;
use crate::db::venues::{NewVenue, VenueRow};
use crate::error::ApiError;

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

impl From<VenueRow> for VenueView {
    fn from(v: VenueRow) -> Self {
        Self {
            id: v.id,
            name: v.name,
            city: v.city,
            address: v.address,
            capacity: v.capacity,
            created_at: v.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VenueRequest {
    #[schema(max_length = 200, pattern = r"\S")]
    pub name: String,
    #[schema(max_length = 100, pattern = r"\S")]
    pub city: String,
    #[schema(max_length = 500, pattern = r"\S")]
    pub address: Option<String>,
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(deserialize_with = "service_kit::integer::whole")]
    pub capacity: i64,
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
    #[schema(max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    #[schema(max_length = 100, pattern = r"\S")]
    pub city: Option<String>,
    #[schema(max_length = 500, pattern = r"\S")]
    pub address: Option<String>,
    #[schema(minimum = 1, maximum = 1_000_000)]
    #[serde(default, deserialize_with = "service_kit::integer::optional_whole")]
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
