//! The OpenAPI document, generated from the handlers' annotations; served by the kit at
//! `/openapi.json`.

use service_kit::openapi::BearerAuth;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "catalog-service", description = "Venues, events and seat maps of the ticketing fleet."),
    paths(
        routes::create_venue, routes::list_venues, routes::get_venue, routes::update_venue,
        routes::create_event, routes::list_events, routes::get_event, routes::update_event,
        routes::put_seats, routes::list_seats, routes::publish_event, routes::cancel_event,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;
