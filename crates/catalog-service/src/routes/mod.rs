//! HTTP routes: one module per resource, each registering its handlers and their OpenAPI
//! operations in one place (`utoipa_axum::routes!`). Handlers extract, call, respond.

mod events;
mod venues;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .merge(venues::router())
        .merge(events::router())
        .with_state(state)
}
