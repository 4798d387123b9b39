//! catalog-service: the event an order is for.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use service_kit::client::ServiceClient;
use uuid::Uuid;

use super::Remote;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub id: Uuid,
    pub title: String,
    pub status: String,
    pub starts_at: DateTime<Utc>,
    pub venue: Venue,
    pub organizer_id: Uuid,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Venue {
    pub name: String,
    pub city: String,
}

impl Event {
    pub fn on_sale(&self) -> bool {
        self.status == "ON_SALE"
    }
}

#[derive(Clone, Debug)]
pub struct CatalogClient(pub ServiceClient);

impl CatalogClient {
    pub async fn event(&self, id: Uuid) -> Result<Event, Remote> {
        Ok(self.0.get(&format!("/v1/events/{id}")).send_json().await?)
    }
}
