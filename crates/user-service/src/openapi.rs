//! The OpenAPI document, generated from the handlers' annotations; served by the kit at
//! `/openapi.json`.

use service_kit::openapi::BearerAuth;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "user-service", description = "Accounts, sessions and tokens of the ticketing fleet."),
    paths(
        routes::register, routes::get_me, routes::update_me, routes::get_user, routes::set_role,
        routes::login, routes::refresh, routes::logout, routes::service_token, routes::jwks,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;
