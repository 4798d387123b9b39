//! The OpenAPI document, generated from the handlers' annotations; served by the kit at
//! `/openapi.json`.

use service_kit::openapi::BearerAuth;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "seating-service", description = "Seat availability and holds of the ticketing fleet."),
    paths(
        routes::upsert_inventory, routes::seat_map, routes::list_seats, routes::reserve,
        routes::release, routes::allocate, routes::return_seats, routes::get_hold,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;
