//! HTTP routes: one module per resource, each registering its handlers and their OpenAPI
//! operations in one place (`utoipa_axum::routes!`). Handlers extract, call, respond.

mod events;
mod holds;
mod seatmap;
mod seats;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .merge(events::router())
        .merge(seats::router())
        .merge(holds::router())
        .merge(seatmap::router())
        .with_state(state)
}
