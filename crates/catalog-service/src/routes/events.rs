use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use service_kit::Problem;
use service_kit::auth::{Authorized, Caller, Organizers};
use service_kit::conditional::json_with_etag;
use service_kit::extract::{Json, Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{
    CancelRequest, EventPatch, EventQuery, EventRequest, EventView, SeatCount, SeatList,
    SeatsRequest,
};
use crate::error::ApiResult;
use crate::events;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events, create_event))
        .routes(routes!(get_event, update_event))
        .routes(routes!(list_seats, put_seats))
        .routes(routes!(publish_event))
        .routes(routes!(cancel_event))
}

/// Create an event as a draft (organizers, admins).
#[utoipa::path(post, path = "/v1/events", tag = "events", security(("bearer" = [])), request_body = EventRequest,
    responses((status = 201, body = EventView), (status = 403, body = Problem),
        (status = 422, description = "Invalid fields, unknown venue, start in the past", body = Problem)))]
pub async fn create_event(
    State(state): State<AppState>,
    caller: Authorized<Organizers>,
    Json(request): Json<EventRequest>,
) -> ApiResult<(StatusCode, Json<EventView>)> {
    Ok((
        StatusCode::CREATED,
        Json(events::create(&state, &caller.caller, &request).await?),
    ))
}

/// Search events (drafts only for their organizer and admins); paged, by start time. ETag.
#[utoipa::path(get, path = "/v1/events", tag = "events", params(EventQuery), security((), ("bearer" = [])),
    responses((status = 200, description = "A page of events", body = crate::api::Page<EventView>), (status = 304), (status = 422, body = Problem)))]
pub async fn list_events(
    State(state): State<AppState>,
    caller: Option<Caller>,
    headers: HeaderMap,
    Query(query): Query<EventQuery>,
) -> ApiResult<Response> {
    let page = events::list(&state, caller.as_ref(), &query).await?;
    Ok(json_with_etag(&headers, &page))
}

/// An event. ETag.
#[utoipa::path(get, path = "/v1/events/{id}", tag = "events", params(("id" = Uuid, Path)), security((), ("bearer" = [])),
    responses((status = 200, body = EventView), (status = 304), (status = 404, body = Problem)))]
pub async fn get_event(
    State(state): State<AppState>,
    caller: Option<Caller>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    Ok(json_with_etag(
        &headers,
        &events::get(&state, caller.as_ref(), id).await?,
    ))
}

/// Change an event (its organizer, admins).
#[utoipa::path(patch, path = "/v1/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = EventPatch,
    responses((status = 200, body = EventView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(patch): Json<EventPatch>,
) -> ApiResult<Json<EventView>> {
    Ok(Json(events::update(&state, &caller, id, &patch).await?))
}

/// Define a draft's seats: a list or a layout.
#[utoipa::path(put, path = "/v1/events/{id}/seats", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SeatsRequest,
    responses((status = 200, body = SeatCount), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Not a draft", body = Problem),
        (status = 422, description = "Duplicates or invalid seats", body = Problem)))]
pub async fn put_seats(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(request): Json<SeatsRequest>,
) -> ApiResult<Json<SeatCount>> {
    Ok(Json(
        events::put_seats(&state, &caller, id, &request).await?,
    ))
}

/// The canonical seat list. ETag.
#[utoipa::path(get, path = "/v1/events/{id}/seats", tag = "events", params(("id" = Uuid, Path)), security((), ("bearer" = [])),
    responses((status = 200, body = SeatList), (status = 304), (status = 404, body = Problem)))]
pub async fn list_seats(
    State(state): State<AppState>,
    caller: Option<Caller>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    Ok(json_with_etag(
        &headers,
        &events::list_seats(&state, caller.as_ref(), id).await?,
    ))
}

/// Publish: seating gets the seats, then the event is ON_SALE.
#[utoipa::path(post, path = "/v1/events/{id}/publish", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Not a draft, or no seats", body = Problem),
        (status = 503, description = "Seating down; the event stays a draft", body = Problem)))]
pub async fn publish_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<EventView>> {
    Ok(Json(events::publish(&state, &caller, id).await?))
}

/// Cancel for good; the fleet is told with `event.cancelled`.
#[utoipa::path(post, path = "/v1/events/{id}/cancel", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CancelRequest,
    responses((status = 200, body = EventView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Cancelled already", body = Problem)))]
pub async fn cancel_event(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(request): Json<CancelRequest>,
) -> ApiResult<Json<EventView>> {
    Ok(Json(events::cancel(&state, &caller, id, &request).await?))
}
