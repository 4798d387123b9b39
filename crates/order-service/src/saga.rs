//! The saga engine: takes an order whose step is leased to the caller and drives it, step by
//! step, until it rests in a status or a step's outcome is unknown.
//!
//! Every step is the same shape: read what the order says, call one service with a key derived
//! from the order (`order:{id}:reserve`, `order:{id}:charge`, `order:{id}:refund`; allocate,
//! release and return are idempotent by themselves), then write the outcome and the next step in
//! one statement conditional on the lease. A crash anywhere leaves the step written down; the
//! next driver (a retried request, or the recovery task once the lease is stale) repeats the call
//! with the same key, which repeats nothing, and carries on. No transaction is held across a
//! call.

use std::time::Instant;

use anyhow::Context;
use axum::http::StatusCode;
use chrono::Utc;
use service_kit::messages::outbox;
use service_kit::messages::payloads::{
    OrderCancelled, OrderConfirmed, OrderExpired, OrderRefunded,
};
use uuid::Uuid;

use crate::clients::Remote;
use crate::clients::payment::{Charge, Payment};
use crate::config::SERVICE;
use crate::db::cancellations;
use crate::db::orders::{self, ItemRow, OrderRow, RecordedCharge, RecordedHold};
use crate::db::tickets::TicketRow;
use crate::domain::{Compensation, OrderStatus, Step, TicketCode, TicketStatus, Totals};
use crate::error::{ApiError, OrderError};
use crate::notices::notice;
use crate::state::AppState;

/// Where driving stopped.
#[derive(Debug)]
pub enum Stop {
    /// No step under way: the order rests in its status.
    Rested(Box<OrderRow>),
    /// The seats could not be held; the order is forgotten and this is the buyer's answer.
    Refused(Box<ApiError>),
    /// payment-service refused the charge request itself (a malformed token, say): nothing was
    /// charged and the order waits for a payment again. Its problem, for the buyer.
    ChargeRefused(serde_json::Value),
    /// A call's outcome is unknown; the step stays written down for the next driver.
    InDoubt { step: Step, cause: String },
    /// Someone else took the order over.
    LostLease,
}

enum Flow {
    /// The step is done; the order as it is now (at its next step, or at rest).
    Next(Box<OrderRow>),
    Stop(Stop),
}

/// The next flow from an update conditional on the lease: `None` means someone took over.
fn next(row: Option<OrderRow>) -> Flow {
    row.map_or(Flow::Stop(Stop::LostLease), |row| Flow::Next(Box::new(row)))
}

/// A crash point for the recovery tests: in test builds, `FAILPOINTS=<name>=return` makes the
/// process exit right there, as a kill would; release builds compile it away.
fn crash_point(name: &str) {
    let _ = name; // unused where crash points are compiled away
    fail::fail_point!(name, |_| {
        tracing::warn!(crash_point = name, "crash point reached: exiting");
        std::process::exit(86)
    });
}

/// Drives the order, as its lease holder took it (a claim, a take-over, its creation), until it
/// rests or cannot go on. Each step's update returns the order as it is after it, so the order
/// is never read again.
pub async fn drive(state: &AppState, taken: OrderRow) -> anyhow::Result<Stop> {
    let Some(lease) = taken.lease else {
        return Ok(Stop::Rested(Box::new(taken)));
    };
    let id = taken.id;
    let mut order = taken;
    loop {
        let Some(step) = order.step else {
            return Ok(Stop::Rested(Box::new(order)));
        };
        let started = Instant::now();
        let flow = match step {
            Step::Reserve => reserve(state, &order, lease).await?,
            Step::Charge => charge(state, &order, lease).await?,
            Step::Allocate => allocate(state, &order, lease).await?,
            Step::Release => release(state, &order, lease).await?,
            Step::Refund => refund(state, &order, lease).await?,
            Step::Return => return_seats(state, &order, lease).await?,
        };
        state.metrics.step_took(step, started.elapsed());
        match flow {
            Flow::Next(now) => order = *now,
            Flow::Stop(stop) => {
                if let Stop::InDoubt { step, cause } = &stop {
                    tracing::warn!(order_id = %id, step = step.as_str(), %cause, "saga step in doubt; it will be retried");
                }
                return Ok(stop);
            }
        }
    }
}

fn lost() -> Flow {
    Flow::Stop(Stop::LostLease)
}

fn in_doubt(step: Step, cause: impl std::fmt::Display) -> Flow {
    Flow::Stop(Stop::InDoubt {
        step,
        cause: cause.to_string(),
    })
}

/// Holds the seats; with the hold come seating's prices, and the totals.
async fn reserve(state: &AppState, order: &OrderRow, lease: Uuid) -> anyhow::Result<Flow> {
    let key = format!("order:{}:reserve", order.id);
    let held = state
        .seating
        .reserve(&key, order.event_id, &order.requested_seats, order.user_id)
        .await;
    let hold = match held {
        Ok(hold) => hold,
        Err(Remote::Unknown(cause)) => return Ok(in_doubt(Step::Reserve, cause)),
        Err(refused) => {
            let answer = reserve_refusal(&refused);
            if !orders::delete_unreserved(&state.pool, order.id, lease).await? {
                return Ok(lost());
            }
            tracing::info!(order_id = %order.id, refusal = %refused, "seats not held; order dropped");
            return Ok(Flow::Stop(Stop::Refused(Box::new(answer))));
        }
    };
    crash_point("order.after_reserve");
    let items: Vec<ItemRow> = hold
        .seats
        .iter()
        .map(|s| ItemRow {
            seat_id: s.seat_id,
            section: s.section.clone(),
            row: s.row.clone(),
            number: s.number,
            price: s.price,
        })
        .collect();
    let totals = Totals::of(items.iter().map(|i| i.price)).context("the totals overflow")?;
    let next = order.charge_token.is_some().then_some(Step::Charge);
    let recorded = RecordedHold {
        hold_id: hold.hold_id,
        expires_at: hold.expires_at,
        currency: &hold.currency,
        totals,
        items: &items,
    };
    let Some(now) = orders::record_hold(&state.pool, order.id, lease, &recorded, next).await?
    else {
        return Ok(lost());
    };
    state.metrics.reached(OrderStatus::PendingPayment);
    tracing::info!(order_id = %order.id, hold_id = %hold.hold_id, "seats held");
    Ok(Flow::Next(Box::new(now)))
}

/// The buyer's answer when seating refused the hold.
fn reserve_refusal(refused: &Remote) -> ApiError {
    let Remote::Refused { status, problem } = refused else {
        return ApiError::internal(anyhow::anyhow!("not a refusal"));
    };
    match refused.code() {
        Some("seats-unavailable") => OrderError::SeatsTaken(problem["conflicts"].clone()).into(),
        Some("event-not-on-sale") => OrderError::EventNotOnSale("not on sale".into()).into(),
        Some("hold-limit-reached") => OrderError::HoldLimit(problem.clone()).into(),
        Some("rate-limited") => OrderError::HoldsRateLimited.into(),
        _ if *status == StatusCode::UNPROCESSABLE_ENTITY => {
            let detail = problem["errors"][0]["message"]
                .as_str()
                .unwrap_or("some seats are not seats of this event");
            ApiError::field("seatIds", detail.to_owned())
        }
        Some("not-found") => OrderError::EventNotOnSale("without seats".into()).into(),
        _ => ApiError::internal(anyhow::anyhow!("seating refused the hold: {refused}")),
    }
}

/// Charges the total, once: the key is the order's, so every repeat is the same charge.
async fn charge(state: &AppState, order: &OrderRow, lease: Uuid) -> anyhow::Result<Flow> {
    let expired = order.hold_expires_at.is_none_or(|t| t <= Utc::now());
    if expired {
        // No new charge for an expired hold; but a charge an earlier driver sent may exist.
        match state.payment.for_order(order.id).await {
            Err(remote) => return Ok(in_doubt(Step::Charge, remote)),
            Ok(None) => return expire_uncharged(state, order, lease).await,
            Ok(Some(payment)) if payment.status == "FAILED" => {
                return expire_uncharged(state, order, lease).await;
            }
            Ok(Some(payment)) if payment.status != "PENDING" => {
                return record_success(state, order, lease, &payment).await;
            }
            // PENDING: repeat the very request below, to settle it.
            Ok(Some(_)) => {}
        }
    }
    let (Some(token), Some(total), Some(currency)) =
        (&order.charge_token, order.total, &order.currency)
    else {
        anyhow::bail!(
            "order {} is at its charge step without a card token",
            order.id
        );
    };
    let key = format!("order:{}:charge", order.id);
    let charged = state
        .payment
        .charge(&Charge {
            key: &key,
            order_id: order.id,
            user_id: order.user_id,
            amount: total,
            currency,
            token,
        })
        .await;
    match charged {
        Ok(payment) if payment.status == "SUCCESS" => {
            crash_point("order.after_charge");
            record_success(state, order, lease, &payment).await
        }
        Ok(payment) => Ok(in_doubt(
            Step::Charge,
            format!("the payment is {}", payment.status),
        )),
        Err(Remote::Refused { status, problem }) if status == StatusCode::PAYMENT_REQUIRED => {
            let payment: Payment = serde_json::from_value(problem["payment"].clone())
                .context("a decline without its payment")?;
            let reason = payment.failure_reason.as_deref().unwrap_or("declined");
            let recorded = RecordedCharge {
                payment_id: payment.id,
                status: "FAILED",
                failure: Some(reason),
                next: Step::Release,
                undo: Some((OrderStatus::PaymentFailed, Compensation::Declined)),
            };
            let now = orders::record_charge(&state.pool, order.id, lease, &recorded).await?;
            tracing::info!(order_id = %order.id, reason, "card declined");
            Ok(next(now))
        }
        Err(Remote::Refused { status, problem }) if status == StatusCode::UNPROCESSABLE_ENTITY => {
            // The request itself was refused (a malformed token): nothing was charged.
            if !orders::abandon_charge(&state.pool, order.id, lease).await? {
                return Ok(lost());
            }
            Ok(Flow::Stop(Stop::ChargeRefused(problem)))
        }
        Err(remote) => Ok(in_doubt(Step::Charge, remote)),
    }
}

async fn record_success(
    state: &AppState,
    order: &OrderRow,
    lease: Uuid,
    payment: &Payment,
) -> anyhow::Result<Flow> {
    let recorded = RecordedCharge {
        payment_id: payment.id,
        status: "SUCCESS",
        failure: None,
        next: Step::Allocate,
        undo: None,
    };
    let now = orders::record_charge(&state.pool, order.id, lease, &recorded).await?;
    tracing::info!(order_id = %order.id, payment_id = %payment.id, "charged");
    Ok(next(now))
}

/// The hold ran out before any charge: EXPIRED, nothing to give back.
async fn expire_uncharged(state: &AppState, order: &OrderRow, lease: Uuid) -> anyhow::Result<Flow> {
    Ok(next(
        land(state, order, lease, OrderStatus::Expired, None).await?,
    ))
}

/// Sells the held seats to the order, then issues the tickets, CONFIRMED and `order.confirmed`
/// in one transaction. A hold that is gone (expired, or released by an event's cancellation)
/// turns the charge into a refund.
async fn allocate(state: &AppState, order: &OrderRow, lease: Uuid) -> anyhow::Result<Flow> {
    let hold_id = order.hold_id.context("an order at allocation has a hold")?;
    match state.seating.allocate(hold_id, order.id).await {
        Ok(_) => {}
        Err(Remote::Refused { status, .. })
            if status == StatusCode::CONFLICT || status == StatusCode::NOT_FOUND =>
        {
            let (outcome, why) = if cancellations::is_cancelled(&state.pool, order.event_id).await?
            {
                (OrderStatus::Cancelled, Compensation::EventCancelled)
            } else {
                (OrderStatus::Expired, Compensation::HoldExpiredAfterCharge)
            };
            tracing::warn!(order_id = %order.id, reason = why.as_str(), "charged but the hold is gone: refunding");
            let now =
                orders::redirect(&state.pool, order.id, lease, Step::Refund, outcome, why).await?;
            return Ok(next(now));
        }
        Err(remote) => return Ok(in_doubt(Step::Allocate, remote)),
    }
    crash_point("order.after_allocate");
    let items = orders::items_of(&state.pool, order.id).await?;
    let mut issued = Vec::with_capacity(items.len());
    for item in &items {
        let code = TicketCode::random();
        issued.push(TicketRow {
            qr_payload: state
                .signer
                .payload(&code, order.event_id, item, order.event_starts_at)?,
            code: code.as_str().to_owned(),
            order_id: order.id,
            event_id: order.event_id,
            seat_id: item.seat_id,
            section: item.section.clone(),
            row: item.row.clone(),
            number: item.number,
            price_paid: item.price,
            status: TicketStatus::Valid,
            used_at: None,
        });
    }
    let mut tx = state.pool.begin().await?;
    let Some(now) = orders::confirm(&mut tx, order.id, lease, &issued).await? else {
        return Ok(lost());
    };
    crash_point("order.before_outbox");
    outbox::enqueue(&mut tx, SERVICE, &OrderConfirmed(notice(order, &issued))).await?;
    tx.commit().await?;
    state.metrics.reached(OrderStatus::Confirmed);
    tracing::info!(order_id = %order.id, tickets = issued.len(), "order confirmed");
    Ok(Flow::Next(Box::new(now)))
}

/// Lets the hold go, and lands where the undoing was headed (PAYMENT_FAILED, CANCELLED).
async fn release(state: &AppState, order: &OrderRow, lease: Uuid) -> anyhow::Result<Flow> {
    let outcome = order.outcome.context("a release knows where it lands")?;
    let hold_id = order
        .hold_id
        .context("an order with a release has a hold")?;
    match state.seating.release(hold_id).await {
        Ok(_) => {}
        Err(Remote::Refused { status, .. }) if status == StatusCode::NOT_FOUND => {}
        Err(remote) => return Ok(in_doubt(Step::Release, remote)),
    }
    Ok(next(land(state, order, lease, outcome, None).await?))
}

/// Gives the whole charge back; then the seats go back (a refund of a confirmed order) or the
/// order lands (a charge that came too late).
async fn refund(state: &AppState, order: &OrderRow, lease: Uuid) -> anyhow::Result<Flow> {
    let outcome = order.outcome.context("a refund knows where it lands")?;
    let payment_id = order.payment_id.context("a refund has a payment")?;
    let reason = order
        .compensation
        .map_or("order cancelled", Compensation::as_str);
    let key = format!("order:{}:refund", order.id);
    match state.payment.refund(&key, payment_id, reason).await {
        Ok(_) => crash_point("order.after_refund"),
        Err(Remote::Refused { status, .. }) if status == StatusCode::CONFLICT => {
            // Not refundable: fine if it is refunded already (by an earlier driver).
            match state.payment.get(payment_id).await {
                Ok(payment) if payment.status == "REFUNDED" => {}
                Ok(payment) => anyhow::bail!(
                    "payment {payment_id} of order {} cannot be refunded: it is {}",
                    order.id,
                    payment.status
                ),
                Err(remote) => return Ok(in_doubt(Step::Refund, remote)),
            }
        }
        Err(remote) => return Ok(in_doubt(Step::Refund, remote)),
    }
    tracing::info!(order_id = %order.id, %payment_id, "refunded");
    let now = if outcome == OrderStatus::Refunded {
        orders::advance(&state.pool, order.id, lease, Step::Return, Some("REFUNDED")).await?
    } else {
        land(state, order, lease, outcome, Some("REFUNDED")).await?
    };
    Ok(next(now))
}

/// Makes a refunded order's seats available again: REFUNDED.
async fn return_seats(state: &AppState, order: &OrderRow, lease: Uuid) -> anyhow::Result<Flow> {
    let seats: Vec<Uuid> = orders::items_of(&state.pool, order.id)
        .await?
        .iter()
        .map(|i| i.seat_id)
        .collect();
    if let Err(remote) = state
        .seating
        .return_seats(order.event_id, &seats, order.id)
        .await
    {
        return Ok(in_doubt(Step::Return, remote));
    }
    Ok(next(
        land(state, order, lease, OrderStatus::Refunded, None).await?,
    ))
}

/// Ends the saga in `status` with the buyer's message, in one transaction: the order as it is
/// now, or `None` when the lease was lost.
async fn land(
    state: &AppState,
    order: &OrderRow,
    lease: Uuid,
    status: OrderStatus,
    payment_status: Option<&str>,
) -> anyhow::Result<Option<OrderRow>> {
    let mut tx = state.pool.begin().await?;
    let Some(now) = orders::settle(&mut tx, order.id, lease, status, payment_status).await? else {
        return Ok(None);
    };
    let notice = notice(order, &[]);
    match status {
        OrderStatus::Cancelled => {
            outbox::enqueue(&mut tx, SERVICE, &OrderCancelled(notice)).await?;
        }
        OrderStatus::Expired => {
            outbox::enqueue(&mut tx, SERVICE, &OrderExpired(notice)).await?;
        }
        OrderStatus::Refunded => {
            outbox::enqueue(&mut tx, SERVICE, &OrderRefunded(notice)).await?;
        }
        _ => {}
    }
    tx.commit().await?;
    state.metrics.reached(status);
    if let Some(why) = order.compensation {
        state.metrics.compensated(why);
    }
    tracing::info!(order_id = %order.id, %status, "order settled");
    Ok(Some(now))
}
