//! Holds: reserve, read, release, allocate, and the return of sold seats.

use service_kit::auth::{Caller, Scope};
use uuid::Uuid;

use crate::api::{HoldView, Reservation, ReturnRequest, ReturnView};
use crate::db::holds::{self, HoldRow};
use crate::db::seats::HeldSeatRow;
use crate::db::{events, seats};
use crate::domain::{EventStatus, HoldStatus};
use crate::error::{ApiError, ApiResult, SeatingError};
use crate::state::AppState;

/// Holds all the requested seats or none: 409 naming the seats that are taken.
#[tracing::instrument(skip_all, fields(event_id = %reservation.event_id, seats = reservation.seats.len()))]
pub async fn reserve(
    state: &AppState,
    caller: &Caller,
    reservation: Reservation,
) -> ApiResult<HoldView> {
    // A buyer holds for themselves; order-service (`seating:holds`) for anyone.
    if caller.user_id() != Some(reservation.holder_id) && !caller.has(Scope::SeatingHolds) {
        return Err(service_kit::Problem::forbidden()
            .with_detail("You can only hold seats for yourself.")
            .into());
    }
    // Per holder, whoever asks for them (the buyer, or order-service for the buyer).
    if let Some(limit) = &state.hold_rate {
        limit.check(&reservation.holder_id)?;
    }
    let outcome = try_reserve(state, &reservation).await;
    state.metrics.record_reservation(&outcome);
    outcome
}

async fn try_reserve(state: &AppState, r: &Reservation) -> ApiResult<HoldView> {
    let event = events::find(&state.pool, r.event_id)
        .await?
        .ok_or(SeatingError::EventNotFound)?;
    // A shortcut: the claim itself only matches seats of an event on sale at that instant.
    if event.status != EventStatus::OnSale {
        return Err(SeatingError::NotOnSale.into());
    }
    // Only an event cancelled before its inventory has none (the table's CHECK).
    let currency = event.currency.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "event {} is not cancelled but has no currency",
            r.event_id
        ))
    })?;
    let hold_id = Uuid::now_v7();
    let mut tx = state.pool.begin().await?;
    let expires_at =
        holds::insert(&mut tx, hold_id, r.event_id, r.holder_id, r.ttl.duration()).await?;
    // One holder's reserves of one event take turns from here (a lock on the pair), so each
    // counts what the others committed: a burst of parallel calls cannot pass the limit.
    let held = holds::lock_and_count_held(&mut tx, r.holder_id, r.event_id).await?;
    let asked = i64::try_from(r.seats.len()).unwrap_or(i64::MAX);
    if held.saturating_add(asked) > state.max_held_seats {
        tx.rollback().await?;
        return Err(SeatingError::HoldLimit {
            limit: state.max_held_seats,
            held,
        }
        .into());
    }
    let claimed = seats::claim(
        &mut tx,
        hold_id,
        r.event_id,
        r.seats.ids(),
        r.ttl.duration(),
    )
    .await?;
    if claimed.len() < r.seats.len() {
        tx.rollback().await?;
        return Err(shortfall(state, r, &claimed).await?);
    }
    holds::insert_seats(&mut tx, hold_id, &claimed).await?;
    tx.commit().await?;
    tracing::info!(%hold_id, "seats held");
    Ok(HoldView {
        hold_id,
        event_id: r.event_id,
        holder_id: r.holder_id,
        status: HoldStatus::Active,
        expires_at,
        seats: claimed.into_iter().map(Into::into).collect(),
        currency,
        order_id: None,
    })
}

/// Why a claim came up short: seats that are not the event's (422), or seats taken (409).
async fn shortfall(
    state: &AppState,
    r: &Reservation,
    claimed: &[HeldSeatRow],
) -> ApiResult<ApiError> {
    if events::find(&state.pool, r.event_id)
        .await?
        .is_some_and(|e| e.status != EventStatus::OnSale)
    {
        return Ok(SeatingError::NotOnSale.into());
    }
    let unknown = seats::unknown(&state.pool, r.event_id, r.seats.ids()).await?;
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(Uuid::to_string).collect();
        return Ok(ApiError::field(
            "seatIds",
            format!("not seats of this event: {}", list.join(", ")),
        ));
    }
    let conflicts = r
        .seats
        .ids()
        .iter()
        .filter(|id| !claimed.iter().any(|c| c.id == **id))
        .copied()
        .collect();
    Ok(SeatingError::SeatsTaken(conflicts).into())
}

/// A hold, for its holder or a service granted `seating:holds`; anyone else gets 404.
pub async fn get(state: &AppState, caller: &Caller, hold_id: Uuid) -> ApiResult<HoldView> {
    let hold = holds::find(&state.pool, hold_id)
        .await?
        .filter(|h| visible(caller, h))
        .ok_or(SeatingError::HoldNotFound)?;
    view(&state.pool, hold).await
}

fn visible(caller: &Caller, hold: &HoldRow) -> bool {
    caller.has(Scope::SeatingHolds) || caller.user_id() == Some(hold.holder_id)
}

async fn view(db: impl sqlx::PgExecutor<'_>, hold: HoldRow) -> ApiResult<HoldView> {
    let seats = holds::seats_of(db, hold.id).await?;
    Ok(HoldView {
        hold_id: hold.id,
        event_id: hold.event_id,
        holder_id: hold.holder_id,
        status: hold.effective_status(),
        expires_at: hold.expires_at,
        seats: seats.into_iter().map(Into::into).collect(),
        currency: hold.currency,
        order_id: hold.order_id,
    })
}

/// Releases a hold; releasing it again (or an expired one) changes nothing. An allocated hold
/// cannot be released: its seats are sold (409).
#[tracing::instrument(skip_all, fields(%hold_id))]
pub async fn release(state: &AppState, caller: &Caller, hold_id: Uuid) -> ApiResult<HoldView> {
    let mut tx = state.pool.begin().await?;
    let hold = holds::lock(&mut tx, hold_id)
        .await?
        .filter(|h| visible(caller, h))
        .ok_or(SeatingError::HoldNotFound)?;
    // The effective status: an active hold past its expiry is expired, and releasing it changes
    // nothing (its seats already block no one).
    match hold.effective_status() {
        HoldStatus::Active => {
            holds::set_status(&mut tx, hold_id, HoldStatus::Released).await?;
            seats::free_hold(&mut tx, hold_id).await?;
            tracing::info!("hold released");
        }
        HoldStatus::Released | HoldStatus::Expired => {}
        HoldStatus::Allocated => {
            return Err(SeatingError::HoldNotActive(
                "The hold was allocated to an order; its seats are sold.".into(),
            )
            .into());
        }
    }
    let hold = holds::lock(&mut tx, hold_id)
        .await?
        .ok_or(SeatingError::HoldNotFound)?;
    let view = view(&mut *tx, hold).await?;
    tx.commit().await?;
    Ok(view)
}

/// Sells a hold's seats to an order (services only: the route's extractor checks). Only an
/// active, unexpired hold can be allocated; allocating it again to the same order answers the
/// same.
///
/// The hold's row lock orders this against a release, an expiry, another allocation and the
/// event's cancellation (which releases its active holds under the same locks). No event row is
/// locked: the sales of one event do not queue behind each other, and sold out is noticed by
/// the sweeper ([`crate::sweeper::announce_sold_out`]).
#[tracing::instrument(skip_all, fields(%hold_id, %order_id))]
pub async fn allocate(state: &AppState, hold_id: Uuid, order_id: Uuid) -> ApiResult<HoldView> {
    let mut tx = state.pool.begin().await?;
    let hold = holds::lock(&mut tx, hold_id)
        .await?
        .ok_or(SeatingError::HoldNotFound)?;
    match hold.effective_status() {
        HoldStatus::Allocated if hold.order_id == Some(order_id) => {
            let view = view(&mut *tx, hold).await?;
            tx.commit().await?;
            return Ok(view);
        }
        HoldStatus::Allocated => {
            return Err(SeatingError::HoldNotActive(
                "The hold was allocated to another order.".into(),
            )
            .into());
        }
        HoldStatus::Released => {
            return Err(SeatingError::HoldNotActive("The hold was released.".into()).into());
        }
        HoldStatus::Expired => return Err(expired(state)),
        HoldStatus::Active => {}
    }
    let seats = holds::seats_of(&mut *tx, hold_id).await?;
    let sold = seats::sell_hold(&mut tx, hold_id, order_id).await?;
    if usize::try_from(sold).ok() != Some(seats.len()) {
        // The hold expired while we looked (its seats may be someone else's now).
        tx.rollback().await?;
        return Err(expired(state));
    }
    holds::allocate(&mut tx, hold_id, order_id).await?;
    tx.commit().await?;
    tracing::info!("hold allocated");
    Ok(HoldView {
        hold_id: hold.id,
        event_id: hold.event_id,
        holder_id: hold.holder_id,
        status: HoldStatus::Allocated,
        expires_at: hold.expires_at,
        seats: seats.into_iter().map(Into::into).collect(),
        currency: hold.currency,
        order_id: Some(order_id),
    })
}

fn expired(state: &AppState) -> ApiError {
    state.metrics.failed("expired");
    SeatingError::HoldNotActive("The hold expired.".into()).into()
}

/// Makes the seats of a refunded order available again (services only: the route's extractor
/// checks); repeating it changes nothing. The sweeper announces `seating.available` when a
/// sold-out event has a seat again.
#[tracing::instrument(skip_all, fields(event_id = %request.event_id, order_id = %request.order_id))]
pub async fn return_seats(state: &AppState, request: &ReturnRequest) -> ApiResult<ReturnView> {
    if request.seat_ids.is_empty() || request.seat_ids.len() > 100 {
        return Err(ApiError::field("seatIds", "must name 1 to 100 seats"));
    }
    let returned = seats::return_sold(
        &state.pool,
        request.event_id,
        &request.seat_ids,
        request.order_id,
    )
    .await?;
    Ok(ReturnView {
        event_id: request.event_id,
        order_id: request.order_id,
        returned,
    })
}
