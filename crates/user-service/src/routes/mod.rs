//! HTTP routes: one module per resource. Handlers extract, call, respond.

mod auth;
mod jwks;
mod users;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use auth::__path_login;
pub use auth::__path_logout;
pub use auth::__path_refresh;
pub use auth::__path_service_token;
pub use jwks::__path_jwks;
pub use users::__path_get_me;
pub use users::__path_get_user;
pub use users::__path_register;
pub use users::__path_set_role;
pub use users::__path_update_me;

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(users::router())
        .merge(auth::router())
        .merge(jwks::router())
        .route(
            "/openapi.json",
            get(service_kit::openapi::serve::<crate::openapi::ApiDoc>),
        )
        .with_state(state)
}
