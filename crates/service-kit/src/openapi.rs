//! What every service's OpenAPI document shares: the bearer scheme, and the route serving it.
//!
//! A service derives its own document from its handlers' annotations, with
//! `modifiers(&service_kit::openapi::BearerAuth)`, and serves it with
//! `.route("/openapi.json", get(service_kit::openapi::serve::<ApiDoc>))`.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Declares the `bearer` security scheme (a JWT from user-service) that handlers refer to with
/// `security(("bearer" = []))`.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /openapi.json`.
#[allow(clippy::unused_async)] // an axum handler is an async fn
pub async fn serve<D: OpenApi>() -> Json<utoipa::openapi::OpenApi> {
    Json(D::openapi())
}
