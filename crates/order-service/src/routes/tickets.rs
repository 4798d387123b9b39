use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use service_kit::Problem;
use service_kit::auth::Caller;
use service_kit::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::TicketView;
use crate::error::ApiResult;
use crate::state::AppState;
use crate::tickets;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ticket_keys))
        .routes(routes!(get_ticket))
        .routes(routes!(ticket_qr))
        .routes(routes!(check_in))
}

/// The public keys that sign ticket payloads, as a JWK set: a scanner that has them verifies a
/// ticket's QR code offline.
#[utoipa::path(get, path = "/v1/tickets/keys", tag = "tickets",
    responses((status = 200, description = "`{\"keys\": [JWK]}`", body = Object)))]
#[allow(clippy::unused_async)] // an axum handler is an async fn
pub async fn ticket_keys(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.signer.jwks())
}

/// A ticket, for its buyer, the organizer of its event, and admins.
#[utoipa::path(get, path = "/v1/tickets/{code}", tag = "tickets", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = TicketView), (status = 401, body = Problem),
        (status = 404, body = Problem)))]
pub async fn get_ticket(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<TicketView>> {
    Ok(Json(tickets::get(&state, &caller, &code).await?))
}

/// The ticket's signed payload as an SVG QR code, for its buyer.
#[utoipa::path(get, path = "/v1/tickets/{code}/qr.svg", tag = "tickets", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, description = "An SVG image", content_type = "image/svg+xml", body = String),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn ticket_qr(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Response> {
    let svg = tickets::qr_svg(&state, &caller, &code).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            // A ticket is the buyer's secret: never kept by a shared cache.
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        svg,
    )
        .into_response())
}

/// Check a ticket in at the door (the organizer of its event, or an admin): 200 USED the first
/// time; 409 when it was used or voided.
#[utoipa::path(post, path = "/v1/tickets/{code}/check-in", tag = "tickets", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, description = "Now USED", body = TicketView),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Used or void already", body = Problem)))]
pub async fn check_in(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
) -> ApiResult<Json<TicketView>> {
    Ok(Json(tickets::check_in(&state, &caller, &code).await?))
}
