//! HTTP routes: one module per resource, each registering its handlers and their OpenAPI
//! operations in one place (`utoipa_axum::routes!`). Handlers extract, call, respond.

mod orders;
mod tickets;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .merge(orders::router())
        .merge(tickets::router())
        .with_state(state)
}
