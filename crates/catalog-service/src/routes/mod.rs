//! HTTP routes: one module per resource. Handlers extract, call, respond.

mod events;
mod venues;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use events::{
    __path_cancel_event, __path_create_event, __path_get_event, __path_list_events,
    __path_list_seats, __path_publish_event, __path_put_seats, __path_update_event,
};
pub use venues::{__path_create_venue, __path_get_venue, __path_list_venues, __path_update_venue};

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(venues::router())
        .merge(events::router())
        .route(
            "/openapi.json",
            get(service_kit::openapi::serve::<crate::openapi::ApiDoc>),
        )
        .with_state(state)
}
