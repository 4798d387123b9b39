//! catalog-service: the event an order is for.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use service_kit::client::ServiceClient;
use uuid::Uuid;

use super::Remote;
use super::cache::TtlCache;

/// How long an event read from catalog is trusted. A stale `ON_SALE` is harmless: seating
/// refuses holds of a cancelled event, and a sold-out one has no seats to hold.
const EVENT_TTL: Duration = Duration::from_secs(2);

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
pub struct CatalogClient {
    client: ServiceClient,
    events: Arc<TtlCache<Event>>,
}

impl CatalogClient {
    pub fn new(client: ServiceClient) -> Self {
        Self {
            client,
            events: Arc::new(TtlCache::new(10_000, EVENT_TTL)),
        }
    }

    pub async fn event(&self, id: Uuid) -> Result<Event, Remote> {
        if let Some(event) = self.events.get(&id) {
            return Ok(event);
        }
        let event: Event = self
            .client
            .get(&format!("/v1/events/{id}"))
            .send_json()
            .await?;
        self.events.insert(id, event.clone());
        Ok(event)
    }
}
