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

use crate::api::{Paging, VenuePatch, VenueQuery, VenueRequest, VenueView};
use crate::error::ApiResult;
use crate::state::AppState;
use crate::venues;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_venues, create_venue))
        .routes(routes!(get_venue, update_venue))
}

/// Create a venue (organizers, admins).
#[utoipa::path(post, path = "/v1/venues", tag = "venues", security(("bearer" = [])), request_body = VenueRequest,
    responses((status = 201, body = VenueView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_venue(
    State(state): State<AppState>,
    caller: Authorized<Organizers>,
    Json(request): Json<VenueRequest>,
) -> ApiResult<(StatusCode, Json<VenueView>)> {
    Ok((
        StatusCode::CREATED,
        Json(venues::create(&state, &caller.caller, &request).await?),
    ))
}

/// Venues, optionally in one city; paged. Sends an ETag.
#[utoipa::path(get, path = "/v1/venues", tag = "venues", params(VenueQuery),
    responses((status = 200, description = "A page of venues", body = crate::api::Page<VenueView>), (status = 304), (status = 422, body = Problem)))]
pub async fn list_venues(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<VenueQuery>,
) -> ApiResult<Response> {
    let paging = Paging::parse(query.page, query.limit)?;
    let page = venues::list(&state, query.city.as_deref(), paging).await?;
    Ok(json_with_etag(&headers, &page))
}

/// A venue. Sends an ETag.
#[utoipa::path(get, path = "/v1/venues/{id}", tag = "venues", params(("id" = Uuid, Path)),
    responses((status = 200, body = VenueView), (status = 304), (status = 404, body = Problem)))]
pub async fn get_venue(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> ApiResult<Response> {
    Ok(json_with_etag(&headers, &venues::get(&state, id).await?))
}

/// Change a venue (its creator, admins).
#[utoipa::path(patch, path = "/v1/venues/{id}", tag = "venues", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = VenuePatch,
    responses((status = 200, body = VenueView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update_venue(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
    Json(patch): Json<VenuePatch>,
) -> ApiResult<Json<VenueView>> {
    Ok(Json(venues::update(&state, &caller, id, &patch).await?))
}
