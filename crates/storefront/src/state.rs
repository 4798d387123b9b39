//! What every page reaches.

use std::sync::Arc;

use axum::extract::FromRef;
use axum::http::StatusCode;
use axum_extra::extract::cookie::Key;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::client::{ApiError, Fleet};
use crate::recent::Recent;
use crate::seatmap::SeatMaps;
use crate::session::Visit;

#[derive(Clone)]
pub struct AppState {
    pub fleet: Fleet,
    pub seat_maps: SeatMaps,
    /// Catalog's public answers for events, kept for a moment like the seat statuses.
    pub events: Arc<Recent<Value>>,
    pub cookie_key: Key,
    pub secure_cookies: bool,
    /// Cancelled on the shutdown signal: the relayed seat-map streams end, so that the server
    /// can stop instead of waiting for browsers that keep a page open.
    pub closing: CancellationToken,
}

impl AppState {
    /// An event as catalog shows it: its public answer (the same for everyone, so kept for a
    /// moment), or for a draft, which only its organizer can see, the answer to their token.
    pub async fn event(&self, id: Uuid, visit: &Visit) -> Result<Arc<Value>, ApiError> {
        match self.events.get(id, || self.fleet.event(id, None)).await {
            Err(e) if e.status() == StatusCode::NOT_FOUND => match visit.signed_in_token() {
                Some(token) => Ok(Arc::new(self.fleet.event(id, Some(&token)).await?)),
                None => Err(e),
            },
            answer => answer,
        }
    }
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Self {
        state.cookie_key.clone()
    }
}
