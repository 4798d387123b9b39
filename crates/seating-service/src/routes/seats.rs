use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use service_kit::Problem;
use service_kit::auth::{Authorized, Caller, SellSeats};
use service_kit::extract::{Json, Query};
use service_kit::idempotency::{IdempotencyKey, fingerprint};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{
    AllocateRequest, HoldView, ReleaseRequest, ReserveRequest, ReturnRequest, ReturnView, SeatList,
    SeatQuery,
};
use crate::error::ApiResult;
use crate::holds;
use crate::inventory;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_seats))
        .routes(routes!(reserve))
        .routes(routes!(release))
        .routes(routes!(allocate))
        .routes(routes!(return_seats))
}

/// The seats of an event, with filters. An expired hold reads AVAILABLE.
#[utoipa::path(get, path = "/v1/seats", tag = "seats", params(SeatQuery),
    responses((status = 200, body = SeatList), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn list_seats(
    State(state): State<AppState>,
    Query(query): Query<SeatQuery>,
) -> ApiResult<Json<SeatList>> {
    Ok(Json(inventory::list_seats(&state, &query).await?))
}

/// Hold seats, all or nothing. `Idempotency-Key` is honoured: the same key and body replay the
/// first answer.
#[utoipa::path(post, path = "/v1/seats/reserve", tag = "holds", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header)), request_body = ReserveRequest,
    responses((status = 201, body = HoldView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Seats taken (`conflicts`), event not on sale, the holder's limit of held seats reached (`hold-limit-reached`), or key in flight", body = Problem),
        (status = 422, body = Problem),
        (status = 429, description = "Too many holds by this holder in a short time; see Retry-After", body = Problem)))]
pub async fn reserve(
    State(state): State<AppState>,
    caller: Caller,
    key: Option<IdempotencyKey>,
    Json(request): Json<ReserveRequest>,
) -> ApiResult<Response> {
    let reservation = request.validate(state.hold_ttl, caller.is_service())?;
    let print = fingerprint("POST /v1/seats/reserve", &request);
    let work = holds::reserve(&state, &caller, reservation);
    Ok(state
        .idempotency
        .respond(
            &caller.subject,
            key.as_ref(),
            &print,
            StatusCode::CREATED,
            work,
        )
        .await?)
}

/// Release a hold (its holder or a service). Idempotent.
#[utoipa::path(post, path = "/v1/seats/release", tag = "holds", security(("bearer" = [])),
    request_body = ReleaseRequest,
    responses((status = 200, body = HoldView), (status = 404, body = Problem),
        (status = 409, description = "The hold was allocated", body = Problem)))]
pub async fn release(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<ReleaseRequest>,
) -> ApiResult<Json<HoldView>> {
    Ok(Json(
        holds::release(&state, &caller, request.hold_id).await?,
    ))
}

/// Sell a hold's seats to an order (services). Idempotent for the same order.
#[utoipa::path(post, path = "/v1/seats/allocate", tag = "holds", security(("bearer" = [])),
    request_body = AllocateRequest,
    responses((status = 200, body = HoldView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Expired, released, or allocated to another order", body = Problem)))]
pub async fn allocate(
    State(state): State<AppState>,
    _: Authorized<SellSeats>,
    Json(request): Json<AllocateRequest>,
) -> ApiResult<Json<HoldView>> {
    Ok(Json(
        holds::allocate(&state, request.hold_id, request.order_id).await?,
    ))
}

/// Make the sold seats of a refunded order available again (services). Idempotent.
#[utoipa::path(post, path = "/v1/seats/return", tag = "holds", security(("bearer" = [])),
    request_body = ReturnRequest,
    responses((status = 200, body = ReturnView), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn return_seats(
    State(state): State<AppState>,
    _: Authorized<SellSeats>,
    Json(request): Json<ReturnRequest>,
) -> ApiResult<Json<ReturnView>> {
    Ok(Json(holds::return_seats(&state, &request).await?))
}
