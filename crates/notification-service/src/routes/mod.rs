//! HTTP routes: one module per resource, each registering its handlers and their OpenAPI
//! operations in one place (`utoipa_axum::routes!`). Handlers extract, call, respond.
//! (`POST /v1/messages` is the kit's inbox, added by the assembly.)

mod notifications;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .merge(notifications::router())
        .with_state(state)
}
