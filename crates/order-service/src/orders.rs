//! What the order API does: place an order, pay it, cancel it, read it. Each operation takes the
//! order's lease for its first step and hands it to the saga engine ([`crate::saga`]); this
//! module only decides which step, and what the answer says about where the order came to rest.

use axum::http::StatusCode;
use chrono::Utc;
use service_kit::auth::{Caller, Scope};
use service_kit::messages::outbox;
use service_kit::messages::payloads::OrderExpired;
use service_kit::paging::Page;
use uuid::Uuid;

use crate::api::{NewOrder, OrderQuery, OrderView};
use crate::clients::Remote;
use crate::config::SERVICE;
use crate::db::orders::{self, ListFilter, NewOrderRow, OrderRow};
use crate::db::tickets;
use crate::domain::{Compensation, OrderStatus, Step};
use crate::error::{ApiError, ApiResult, OrderError};
use crate::notices::notice;
use crate::saga::{self, Stop};
use crate::state::AppState;

/// The order with its seats and tickets, as the API shows it.
pub async fn view(state: &AppState, order: OrderRow) -> ApiResult<OrderView> {
    let items = orders::items_of(&state.pool, order.id).await?;
    let tickets = tickets::of_order(&state.pool, order.id).await?;
    Ok(OrderView::new(order, items, tickets))
}

fn buyer_of(caller: &Caller) -> ApiResult<Uuid> {
    caller.user_id().ok_or_else(|| {
        service_kit::Problem::forbidden()
            .with_detail("Orders are placed by users, not services.")
            .into()
    })
}

/// Places an order: writes it down, holds the seats, and pays at once when the request carries
/// a payment. A retry after a crash (the same Idempotency-Key) resumes the same order.
#[tracing::instrument(skip_all, fields(event_id = %new.event_id))]
pub async fn create(
    state: &AppState,
    caller: &Caller,
    key: &str,
    new: NewOrder,
) -> ApiResult<(StatusCode, OrderView)> {
    let buyer = buyer_of(caller)?;
    if let Some(limit) = &state.order_rate {
        limit.check(&buyer)?;
    }
    let event = match state.catalog.event(new.event_id).await {
        Ok(event) => event,
        Err(Remote::Refused { status, .. }) if status == StatusCode::NOT_FOUND => {
            return Err(ApiError::field("eventId", "no event with this id"));
        }
        Err(remote) => return Err(unavailable("catalog-service", &remote)),
    };
    if !event.on_sale() {
        return Err(OrderError::EventNotOnSale(event.status).into());
    }
    let user = state
        .users
        .user(buyer)
        .await
        .map_err(|remote| unavailable("user-service", &remote))?;
    let row = NewOrderRow {
        id: Uuid::now_v7(),
        user_id: buyer,
        idempotency_key: key,
        event_id: event.id,
        requested_seats: &new.seat_ids,
        charge_token: new.card_token.as_deref(),
        buyer_email: &user.email,
        buyer_name: &user.name,
        event_title: &event.title,
        event_starts_at: event.starts_at,
        venue_name: &event.venue.name,
        venue_city: &event.venue.city,
        organizer_id: event.organizer_id,
    };
    let Some(order) = orders::insert_reserving(&state.pool, &row, Uuid::now_v7()).await? else {
        // The buyer has an order under this key already: a retry after a crash (the kit's
        // idempotency store gave the key up), or a request racing us for it.
        let existing = orders::find_by_key(&state.pool, buyer, key)
            .await?
            .ok_or(OrderError::Busy)?;
        return resume_created(state, existing).await;
    };
    tracing::info!(order_id = %order.id, "order written down; holding seats");
    let stop = saga::drive(state, order).await?;
    created_answer(state, stop).await
}

/// A retried `POST /v1/orders` whose order exists: take over a stalled step, or answer what the
/// order became.
async fn resume_created(state: &AppState, order: OrderRow) -> ApiResult<(StatusCode, OrderView)> {
    let stop = match take_over(state, &order).await? {
        Some(taken) => saga::drive(state, taken).await?,
        None if order.step.is_some() => return Err(OrderError::Busy.into()),
        None => Stop::Rested(Box::new(order)),
    };
    created_answer(state, stop).await
}

async fn created_answer(state: &AppState, stop: Stop) -> ApiResult<(StatusCode, OrderView)> {
    let order = rested(stop)?;
    match order.status {
        OrderStatus::PendingPayment | OrderStatus::Confirmed => {
            Ok((StatusCode::CREATED, view(state, order).await?))
        }
        _ => Err(settled_refusal(state, order).await),
    }
}

/// Pays a PENDING_PAYMENT order with a card token: charged once, then its seats are sold and
/// its tickets issued.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn pay(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    token: String,
) -> ApiResult<OrderView> {
    let order = own_order(state, caller, id).await?;
    let taken = match (order.status, order.step) {
        (OrderStatus::PendingPayment, None) => {
            if order.hold_expires_at.is_none_or(|t| t <= Utc::now()) {
                expire_one(state, &order).await?;
                return Err(OrderError::HoldExpired { refunded: false }.into());
            }
            orders::claim(
                &state.pool,
                id,
                OrderStatus::PendingPayment,
                Step::Charge,
                None,
                Some(&token),
            )
            .await?
            .ok_or(OrderError::Busy)?
        }
        (OrderStatus::PendingPayment, Some(_)) => {
            take_over(state, &order).await?.ok_or(OrderError::Busy)?
        }
        (OrderStatus::Expired, _) => {
            return Err(OrderError::HoldExpired {
                refunded: order.payment_status.as_deref() == Some("REFUNDED"),
            }
            .into());
        }
        (status, _) => return Err(OrderError::NotPayable(status.as_str()).into()),
    };
    let order = rested(saga::drive(state, taken).await?)?;
    match order.status {
        OrderStatus::Confirmed => view(state, order).await,
        _ => Err(settled_refusal(state, order).await),
    }
}

/// Cancels an order: a pending one is let go (CANCELLED); a confirmed one is refunded in full,
/// its tickets voided and its seats returned (REFUNDED). Once a ticket was checked in only an
/// admin may still cancel. Cancelling again answers the order.
#[tracing::instrument(skip_all, fields(order_id = %id))]
pub async fn cancel(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<OrderView> {
    let order = visible_order(state, caller, id).await?;
    let admin_for_other = caller.is_admin() && caller.user_id() != Some(order.user_id);
    let why = if admin_for_other {
        Compensation::CancelledByAdmin
    } else {
        Compensation::CancelledByBuyer
    };
    let taken = match (order.status, order.step) {
        (OrderStatus::Cancelled | OrderStatus::Refunded, None) => return view(state, order).await,
        (OrderStatus::PendingPayment, None) => orders::claim(
            &state.pool,
            id,
            OrderStatus::PendingPayment,
            Step::Release,
            Some((OrderStatus::Cancelled, why)),
            None,
        )
        .await?
        .ok_or(OrderError::Busy)?,
        (OrderStatus::Confirmed, None) => start_refund(state, id, why, caller.is_admin())
            .await?
            .ok_or(OrderError::Busy)?,
        (_, Some(_)) => take_over(state, &order).await?.ok_or(OrderError::Busy)?,
        (status, None) => {
            return Err(OrderError::NotCancellable(format!(
                "The order is {status}; only pending or confirmed orders can be cancelled."
            ))
            .into());
        }
    };
    let order = rested(saga::drive(state, taken).await?)?;
    view(state, order).await
}

/// Takes a CONFIRMED order for its refund: in one transaction, its tickets are locked (against
/// check-ins), refused if one was used (unless `used_is_fine`: an admin, a cancelled event), and
/// voided; then the refund is written down. The order taken, or `None` when someone else moves
/// it.
pub async fn start_refund(
    state: &AppState,
    id: Uuid,
    why: Compensation,
    used_is_fine: bool,
) -> ApiResult<Option<OrderRow>> {
    let mut tx = state.pool.begin().await?;
    if tickets::lock_any_used(&mut tx, id).await? && !used_is_fine {
        return Err(OrderError::NotCancellable(
            "A ticket of this order was checked in; only an admin can refund it now.".into(),
        )
        .into());
    }
    let Some(taken) = orders::claim(
        &mut *tx,
        id,
        OrderStatus::Confirmed,
        Step::Refund,
        Some((OrderStatus::Refunded, why)),
        None,
    )
    .await?
    else {
        return Ok(None);
    };
    let voided = tickets::void_all(&mut tx, id).await?;
    tx.commit().await?;
    tracing::info!(order_id = %id, voided, reason = why.as_str(), "refund started; tickets void");
    Ok(Some(taken))
}

pub async fn get(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<OrderView> {
    let order = visible_order(state, caller, id).await?;
    view(state, order).await
}

/// The caller's own orders; an admin (or a service granted `orders:read`) may list anyone's, by
/// user or event.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &OrderQuery,
) -> ApiResult<Page<OrderView>> {
    let paging = query.paging()?;
    let filter = if caller.is_admin() || caller.has(Scope::OrdersRead) {
        ListFilter {
            user_id: query.user_id,
            event_id: query.event_id,
        }
    } else {
        if query.user_id.is_some_and(|u| Some(u) != caller.user_id()) || query.event_id.is_some() {
            return Err(service_kit::Problem::forbidden()
                .with_detail("Only admins list other users' orders or an event's orders.")
                .into());
        }
        ListFilter {
            user_id: Some(buyer_of(caller)?),
            event_id: None,
        }
    };
    let (rows, total) = orders::list(&state.pool, &filter, paging.limit, paging.offset()).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        items.push(view(state, row).await?);
    }
    Ok(paging.page_of(items, total))
}

/// The order, if the caller may see it: its buyer, an admin, a service granted `orders:read`.
/// 404 otherwise.
async fn visible_order(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<OrderRow> {
    orders::find(&state.pool, id)
        .await?
        .filter(|o| {
            o.status != OrderStatus::Reserving && caller.may_act_for(o.user_id, Scope::OrdersRead)
        })
        .ok_or_else(|| OrderError::OrderNotFound.into())
}

/// The order, if the caller is its buyer (paying is the buyer's alone).
async fn own_order(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<OrderRow> {
    orders::find(&state.pool, id)
        .await?
        .filter(|o| o.status != OrderStatus::Reserving && caller.user_id() == Some(o.user_id))
        .ok_or_else(|| OrderError::OrderNotFound.into())
}

/// Takes over the order's step when its lease is stale.
async fn take_over(state: &AppState, order: &OrderRow) -> ApiResult<Option<OrderRow>> {
    if order.step.is_none() {
        return Ok(None);
    }
    Ok(orders::take_over(&state.pool, order.id, state.step_lease).await?)
}

/// Expires one unpaid order whose hold ran out (as the sweeper would).
async fn expire_one(state: &AppState, order: &OrderRow) -> ApiResult<()> {
    let Some(taken) = orders::claim(
        &state.pool,
        order.id,
        OrderStatus::PendingPayment,
        Step::Charge,
        None,
        None,
    )
    .await?
    else {
        return Ok(());
    };
    let lease = taken.lease.unwrap_or_default();
    let mut tx = state.pool.begin().await?;
    if orders::settle(&mut tx, order.id, lease, OrderStatus::Expired, None)
        .await?
        .is_some()
    {
        outbox::enqueue(&mut tx, SERVICE, &OrderExpired(notice(order, &[]))).await?;
        tx.commit().await?;
        state.metrics.reached(OrderStatus::Expired);
    }
    Ok(())
}

/// The rested order, or the answer for a driving that could not finish.
fn rested(stop: Stop) -> ApiResult<OrderRow> {
    match stop {
        Stop::Rested(order) => Ok(*order),
        Stop::Refused(answer) => Err(*answer),
        Stop::ChargeRefused(problem) => Err(passed_through(&problem)),
        Stop::InDoubt { step, cause } => {
            tracing::warn!(step = step.as_str(), %cause, "answering 503: a step is in doubt");
            Err(OrderError::Pending(
                match step {
                    Step::Reserve => "The seats could not be held yet (seating did not answer).",
                    Step::Charge => {
                        "The payment's outcome is not known yet (the gateway did not answer)."
                    }
                    Step::Allocate => "The payment was taken; the tickets are being issued.",
                    Step::Release | Step::Refund | Step::Return => "The order is being undone.",
                }
                .to_owned(),
            )
            .into())
        }
        Stop::LostLease => Err(OrderError::Busy.into()),
    }
}

/// The answer for an order that rests somewhere other than where the request hoped.
async fn settled_refusal(state: &AppState, order: OrderRow) -> ApiError {
    match order.status {
        OrderStatus::PaymentFailed => {
            let reason = order
                .payment_failure
                .clone()
                .unwrap_or_else(|| "declined".into());
            match view(state, order).await {
                Ok(view) => OrderError::Declined {
                    reason,
                    order: Box::new(view),
                }
                .into(),
                Err(e) => e,
            }
        }
        OrderStatus::Expired => OrderError::HoldExpired {
            refunded: order.payment_status.as_deref() == Some("REFUNDED"),
        }
        .into(),
        status => OrderError::NotPayable(status.as_str()).into(),
    }
}

/// payment-service's refusal of the charge request, for the buyer (a 422 naming the field).
fn passed_through(problem: &serde_json::Value) -> ApiError {
    let detail = problem["errors"][0]["message"]
        .as_str()
        .or_else(|| problem["detail"].as_str())
        .unwrap_or("the card token was refused");
    ApiError::field("payment.token", detail.to_owned())
}

fn unavailable(service: &str, remote: &Remote) -> ApiError {
    tracing::warn!(service, error = %remote, "dependency failed");
    service_kit::Problem::unavailable(format!("{service} did not answer; retry shortly."), 5).into()
}
