//! HTTP routes: one module per resource. Handlers extract, call, respond.

mod payments;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub use payments::{__path_charge, __path_get_payment, __path_list_payments, __path_refund};

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(payments::router())
        .route(
            "/openapi.json",
            get(service_kit::openapi::serve::<crate::openapi::ApiDoc>),
        )
        .with_state(state)
}
