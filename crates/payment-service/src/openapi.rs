//! The OpenAPI document, generated from the handlers' annotations; served by the kit at
//! `/openapi.json`.

use service_kit::openapi::BearerAuth;
use utoipa::OpenApi;

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "payment-service", description = "Charges, refunds and payments of the ticketing fleet."),
    paths(routes::charge, routes::refund, routes::get_payment, routes::list_payments),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;
