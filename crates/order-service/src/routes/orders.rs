use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use service_kit::Problem;
use service_kit::auth::Caller;
use service_kit::extract::{Json, Path, Query};
use service_kit::idempotency::{IdempotencyKey, fingerprint};
use service_kit::paging::Page;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{CreateOrderRequest, OrderQuery, OrderView, PaymentRequest};
use crate::error::ApiResult;
use crate::orders;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orders, create_order))
        .routes(routes!(get_order))
        .routes(routes!(pay_order))
        .routes(routes!(cancel_order))
}

/// Place an order: the event must be on sale; the seats are held for the buyer (all or none)
/// at seating's prices, with 5 % tax. With `payment`, the order is paid in the same call.
/// `Idempotency-Key` is required, scoped to the buyer: a retry replays the first answer.
#[utoipa::path(post, path = "/v1/orders", tag = "orders", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; scoped to the buyer")),
    request_body = CreateOrderRequest,
    responses((status = 201, description = "PENDING_PAYMENT with its hold; CONFIRMED with tickets when paid", body = OrderView),
        (status = 400, description = "Malformed JSON, or no Idempotency-Key", body = Problem),
        (status = 401, body = Problem),
        (status = 402, description = "Paid in the call and declined: the order (in `order`) is PAYMENT_FAILED, its seats released", body = Problem),
        (status = 403, description = "A service token", body = Problem),
        (status = 409, description = "Seats taken (`conflicts`), event not on sale, or the key in flight", body = Problem),
        (status = 422, description = "Invalid fields, or the key reused with another body", body = Problem),
        (status = 429, description = "Too many orders or holds by this buyer in a short time; see Retry-After", body = Problem),
        (status = 503, description = "A service did not answer; retry with the same key", body = Problem)))]
pub async fn create_order(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Json(request): Json<CreateOrderRequest>,
) -> ApiResult<Response> {
    let new = request.validate()?;
    let print = fingerprint("POST /v1/orders", &request);
    let work = Box::pin(async {
        orders::create(&state, &caller, key.as_str(), new)
            .await
            .map(|(_, order)| order)
    });
    Ok(state
        .idempotency
        .respond(
            &caller.subject,
            Some(&key),
            &print,
            StatusCode::CREATED,
            work,
        )
        .await?)
}

/// Pay a PENDING_PAYMENT order (its buyer): charged once, then its seats are sold and one
/// ticket per seat issued. `Idempotency-Key` is required.
#[utoipa::path(post, path = "/v1/orders/{id}/pay", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header, description = "Required; scoped to the buyer")),
    request_body = PaymentRequest,
    responses((status = 200, description = "CONFIRMED, with its tickets", body = OrderView),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 402, description = "Declined: the order is PAYMENT_FAILED and its seats released", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "The hold expired (EXPIRED, refunded if charged late), the order is not payable, or busy", body = Problem),
        (status = 422, body = Problem),
        (status = 503, description = "The payment's outcome is not known yet; it will be settled", body = Problem)))]
pub async fn pay_order(
    State(state): State<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    Path(id): Path<Uuid>,
    Json(request): Json<PaymentRequest>,
) -> ApiResult<Response> {
    let token = request
        .validate()
        .map_err(|message| crate::error::ApiError::field("token", message))?;
    let print = fingerprint(&format!("POST /v1/orders/{id}/pay"), &request);
    let work = Box::pin(orders::pay(&state, &caller, id, token));
    Ok(state
        .idempotency
        .respond(&caller.subject, Some(&key), &print, StatusCode::OK, work)
        .await?)
}

/// An order, for its buyer, admins and services (404 for anyone else).
#[utoipa::path(get, path = "/v1/orders/{id}", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = OrderView), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<OrderView>> {
    Ok(Json(orders::get(&state, &caller, id).await?))
}

/// The caller's orders, newest first; admins may list a user's or an event's.
#[utoipa::path(get, path = "/v1/orders", tag = "orders", security(("bearer" = [])),
    params(OrderQuery),
    responses((status = 200, body = Page<OrderView>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_orders(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<OrderQuery>,
) -> ApiResult<Json<Page<OrderView>>> {
    Ok(Json(orders::list(&state, &caller, &query).await?))
}

/// Cancel an order (its buyer, or an admin): a pending one is let go (CANCELLED); a confirmed
/// one is refunded in full, its tickets voided and its seats returned (REFUNDED). After a
/// check-in only an admin may. Repeating it answers the order.
#[utoipa::path(post, path = "/v1/orders/{id}/cancel", tag = "orders", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "CANCELLED or REFUNDED", body = OrderView),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "Not cancellable (status, a checked-in ticket), or busy", body = Problem),
        (status = 503, description = "The undoing waits on a service; it will be completed", body = Problem)))]
pub async fn cancel_order(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<OrderView>> {
    Ok(Json(orders::cancel(&state, &caller, id).await?))
}
