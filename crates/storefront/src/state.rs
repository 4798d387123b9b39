//! What every page reaches.

use axum::extract::FromRef;
use axum_extra::extract::cookie::Key;

use crate::client::Fleet;
use crate::seatmap::Layouts;

#[derive(Clone)]
pub struct AppState {
    pub fleet: Fleet,
    pub layouts: Layouts,
    pub cookie_key: Key,
    pub secure_cookies: bool,
}

impl FromRef<AppState> for Key {
    fn from_ref(state: &AppState) -> Self {
        state.cookie_key.clone()
    }
}
