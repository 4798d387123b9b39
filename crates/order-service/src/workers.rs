//! The background work the kit runs supervised beside the server: the expiry of unpaid orders,
//! the recovery of stalled ones, and the undoing of a cancelled event's orders. Each is safe to
//! run in several replicas at once: units of work are claimed by conditional statements (a
//! lease, `FOR UPDATE SKIP LOCKED`), never by a lock held across a call.

use futures::StreamExt;
use service_kit::messages::outbox;
use service_kit::messages::payloads::OrderExpired;
use uuid::Uuid;

use crate::config::SERVICE;
use crate::db::{cancellations, orders};
use crate::domain::{Compensation, OrderStatus, Step};
use crate::notices::notice;
use crate::saga::{self, Stop};
use crate::state::AppState;

const EXPIRY_BATCH: i64 = 200;
const RECOVERY_BATCH: i64 = 100;
const RECOVERY_CONCURRENCY: usize = 8;

/// Expires unpaid orders whose hold ran out, each with its `order.expired`, in batches.
pub async fn expire_due(state: &AppState) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let mut tx = state.pool.begin().await?;
        let expired = orders::expire_due(&mut tx, EXPIRY_BATCH).await?;
        for order in &expired {
            outbox::enqueue(&mut tx, SERVICE, &OrderExpired(notice(order, &[]))).await?;
        }
        tx.commit().await?;
        for _ in &expired {
            state.metrics.reached(OrderStatus::Expired);
        }
        total += expired.len();
        if expired.len() < usize::try_from(EXPIRY_BATCH).unwrap_or(usize::MAX) {
            break;
        }
    }
    if total > 0 {
        tracing::info!(expired = total, "unpaid orders expired");
    }
    Ok(total)
}

/// Takes over every order whose step has not moved for a lease and drives it on: the orders of
/// a process that was killed, or of a request whose call never got an answer.
pub async fn recover_stalled(state: &AppState) -> anyhow::Result<usize> {
    let stalled = orders::stalled(&state.pool, state.step_lease, RECOVERY_BATCH).await?;
    let outcomes: Vec<anyhow::Result<Option<Stop>>> = futures::stream::iter(stalled)
        .map(|id| async move {
            let Some(taken) = orders::take_over(&state.pool, id, state.step_lease).await? else {
                return Ok(None);
            };
            Ok(Some(saga::drive(state, taken).await?))
        })
        .buffer_unordered(RECOVERY_CONCURRENCY)
        .collect()
        .await;
    let mut resumed = 0;
    for outcome in outcomes {
        match outcome? {
            Some(Stop::Rested(order)) => {
                resumed += 1;
                tracing::info!(order_id = %order.id, status = %order.status, "stalled order recovered");
            }
            Some(Stop::Refused(_)) => resumed += 1,
            Some(_) | None => {}
        }
    }
    Ok(resumed)
}

/// Undoes the orders of every cancelled event: pending ones are let go (CANCELLED), confirmed
/// ones refunded (REFUNDED), in batches and a few at a time, each order in its own short steps,
/// so a large event neither holds a long transaction nor loses its place when the process
/// restarts (the event stays open until none of its orders is left to undo).
pub async fn undo_cancelled_events(
    state: &AppState,
    batch: i64,
    concurrency: usize,
) -> anyhow::Result<()> {
    for event_id in cancellations::open(&state.pool).await? {
        undo_event(state, event_id, batch, concurrency).await?;
    }
    Ok(())
}

async fn undo_event(
    state: &AppState,
    event_id: Uuid,
    batch: i64,
    concurrency: usize,
) -> anyhow::Result<()> {
    loop {
        let orders = orders::of_event_to_undo(&state.pool, event_id, batch).await?;
        if orders.is_empty() {
            break;
        }
        let count = orders.len();
        let results: Vec<anyhow::Result<()>> = futures::stream::iter(orders)
            .map(|(id, status)| async move { undo_one(state, id, status).await })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        for result in results {
            result?;
        }
        tracing::info!(%event_id, count, "orders of a cancelled event undone");
    }
    // Orders mid-step (or in doubt) are left for their driver; the event stays open until they
    // rest and, if confirmed, are refunded in a later round.
    if orders::of_event_unsettled(&state.pool, event_id).await? == 0 {
        cancellations::finish(&state.pool, event_id).await?;
    }
    Ok(())
}

async fn undo_one(state: &AppState, id: Uuid, status: OrderStatus) -> anyhow::Result<()> {
    let why = Compensation::EventCancelled;
    let taken = match status {
        OrderStatus::PendingPayment => {
            orders::claim(
                &state.pool,
                id,
                OrderStatus::PendingPayment,
                Step::Release,
                Some((OrderStatus::Cancelled, why)),
                None,
            )
            .await?
        }
        OrderStatus::Confirmed => crate::orders::start_refund(state, id, why, true)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
        _ => None,
    };
    if let Some(taken) = taken {
        saga::drive(state, taken).await?;
    }
    Ok(())
}
