use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use service_kit::Problem;
use service_kit::auth::{Authorized, Caller, Charge, Refund};
use service_kit::extract::{Json, Path, Query};
use service_kit::idempotency::{IdempotencyKey, fingerprint};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{ChargeRequest, PaymentList, PaymentQuery, PaymentView, RefundRequest};
use crate::error::ApiResult;
use crate::payments;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_payments))
        .routes(routes!(charge))
        .routes(routes!(get_payment))
        .routes(routes!(refund))
}

/// Charge an order to a card token, once (services only: order-service, for the buyer it names
/// in `userId`; buyers pay through `POST /v1/orders/{id}/pay`). The same `Idempotency-Key`
/// (required, scoped to the caller) and body replay the first answer; a gateway failure (502) is
/// not final, and a retry with the same key charges the card at most once.
#[utoipa::path(post, path = "/v1/payments/charge", tag = "payments", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Required; scoped to the caller")),
    request_body = ChargeRequest,
    responses((status = 201, description = "Charged: the payment is SUCCESS", body = PaymentView),
        (status = 400, description = "Malformed JSON, or no Idempotency-Key", body = Problem),
        (status = 401, body = Problem),
        (status = 402, description = "Declined: the FAILED payment is in the problem's `payment`", body = Problem),
        (status = 403, description = "Not a service (buyers pay through order-service)", body = Problem),
        (status = 409, description = "The order is paid or being paid (`order-already-paid`), or the key is in flight", body = Problem),
        (status = 422, description = "Invalid fields (a card number among them), or the key reused with another body", body = Problem),
        (status = 502, description = "The gateway failed; the payment stays PENDING, retry with the same key", body = Problem)))]
pub async fn charge(
    State(state): State<AppState>,
    caller: Authorized<Charge>,
    key: IdempotencyKey,
    Json(request): Json<ChargeRequest>,
) -> ApiResult<Response> {
    let charge = request.validate()?;
    let payer = payments::payer(&caller, charge.user_id)?;
    let print = fingerprint("POST /v1/payments/charge", &request);
    // Boxed: the charge's future is large (the gateway call and its records).
    let work = Box::pin(payments::charge(
        &state,
        &caller.caller,
        &key,
        charge,
        payer,
        &print,
    ));
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

/// Refund a payment in full (the default: all that remains) or in part (services and admins).
/// `Idempotency-Key` is required; refunds never add up to more than was charged. A refund the
/// gateway did not answer (502) stays pending, holding its amount: a retry with the same key
/// resumes it, and the reconciler settles it otherwise.
#[utoipa::path(post, path = "/v1/payments/{id}/refund", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = String, Header, description = "Required; scoped to the caller")),
    request_body = RefundRequest,
    responses((status = 200, description = "Refunded: PARTIALLY_REFUNDED or REFUNDED", body = PaymentView),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, description = "Customers cannot refund", body = Problem),
        (status = 404, body = Problem),
        (status = 409, description = "Not refundable (`not-refundable`): status, more than remains (pending refunds count), or refused by the gateway", body = Problem),
        (status = 422, body = Problem),
        (status = 502, description = "The gateway did not answer: the refund is PENDING and holds its amount; retry with the same key", body = Problem)))]
pub async fn refund(
    State(state): State<AppState>,
    caller: Authorized<Refund>,
    key: IdempotencyKey,
    Path(id): Path<Uuid>,
    Json(request): Json<RefundRequest>,
) -> ApiResult<Response> {
    let refund = request.validate()?;
    let print = fingerprint(&format!("POST /v1/payments/{id}/refund"), &request);
    let work = Box::pin(payments::refund(
        &state,
        &caller.caller,
        &key,
        id,
        refund,
        &print,
    ));
    Ok(state
        .idempotency
        .respond(&caller.subject, Some(&key), &print, StatusCode::OK, work)
        .await?)
}

/// A payment, for its payer, admins and services (404 for anyone else).
#[utoipa::path(get, path = "/v1/payments/{id}", tag = "payments", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PaymentView), (status = 400, body = Problem),
        (status = 401, body = Problem),
        (status = 404, description = "Unknown, or another payer's", body = Problem)))]
pub async fn get_payment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<PaymentView>> {
    Ok(Json(payments::get(&state, &caller, id).await?))
}

/// Payments, newest first, optionally of one order: a payer sees only their own; admins and
/// services see all.
#[utoipa::path(get, path = "/v1/payments", tag = "payments", security(("bearer" = [])),
    params(PaymentQuery),
    responses((status = 200, body = PaymentList), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn list_payments(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<PaymentQuery>,
) -> ApiResult<Json<PaymentList>> {
    Ok(Json(payments::list(&state, &caller, &query).await?))
}
