//! HTTP routes: one module per resource. Handlers extract, call, respond.

mod events;
mod holds;
mod seats;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use events::{__path_seat_map, __path_upsert_inventory};
pub use holds::__path_get_hold;
pub use seats::{
    __path_allocate, __path_list_seats, __path_release, __path_reserve, __path_return_seats,
};

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(events::router())
        .merge(seats::router())
        .merge(holds::router())
        .route(
            "/openapi.json",
            get(service_kit::openapi::serve::<crate::openapi::ApiDoc>),
        )
        .with_state(state)
}
