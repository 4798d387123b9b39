use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use service_kit::Problem;
use service_kit::auth::{Authorized, PushInventory};
use service_kit::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{InventoryRequest, InventoryView, SeatMap};
use crate::error::ApiResult;
use crate::inventory;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upsert_inventory))
        .routes(routes!(seat_map))
}

/// Upsert an event's seats (catalog, when it publishes). Idempotent: held and sold seats keep
/// their state; a price changes only while the seat is available.
#[utoipa::path(put, path = "/v1/events/{eventId}/inventory", tag = "inventory",
    security(("bearer" = [])), params(("eventId" = Uuid, Path)), request_body = InventoryRequest,
    responses((status = 200, body = InventoryView), (status = 403, body = Problem),
        (status = 409, description = "Event cancelled, other currency, or seat ids of another event", body = Problem),
        (status = 422, body = Problem)))]
pub async fn upsert_inventory(
    State(state): State<AppState>,
    _: Authorized<PushInventory>,
    Path(event_id): Path<Uuid>,
    Json(request): Json<InventoryRequest>,
) -> ApiResult<Json<InventoryView>> {
    Ok(Json(inventory::upsert(&state, event_id, request).await?))
}

/// Seats grouped by section and row, with status, price and counts, from the cached map (at
/// most `SEATMAP_REFRESH_MS` old); `ETag` is the version, `304` for `If-None-Match`.
#[utoipa::path(get, path = "/v1/events/{eventId}/seatmap", tag = "seats",
    params(("eventId" = Uuid, Path)),
    responses((status = 200, body = SeatMap), (status = 304, description = "Unchanged"),
        (status = 404, body = Problem)))]
pub async fn seat_map(
    State(state): State<AppState>,
    Path(event_id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let map = state.seat_maps.snapshot(event_id).await?;
    let etag = format!("\"m{}\"", map.version);
    Ok(super::seatmap::cached(
        &headers,
        &etag,
        super::seatmap::REVALIDATE,
        map.map_json()?,
    ))
}
