//! Holds: reserve, read, release, allocate, and the return of sold seats.

use service_kit::auth::{Caller, Scope};
use uuid::Uuid;

use crate::api::{HeldSeat, HoldView, Reservation, ReturnRequest, ReturnView};
use crate::db::holds::{self, HoldRow, ReserveRow};
use crate::db::seats;
use crate::domain::HoldStatus;
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
    let hold_id = Uuid::now_v7();
    // One statement, its own transaction: the event's status, the holder's limit and the claim,
    // all or nothing (`seating_reserve`; docs/architecture.md, points 2, 3, 9 and 14).
    let rows = holds::reserve(
        &state.pool,
        hold_id,
        r.event_id,
        r.holder_id,
        r.seats.ids(),
        r.ttl.duration(),
        state.max_held_seats,
    )
    .await?;
    let outcome = |name: &str| rows.iter().any(|row| row.outcome == name);
    if outcome("no_event") {
        return Err(SeatingError::EventNotFound.into());
    }
    if outcome("not_on_sale") {
        return Err(SeatingError::NotOnSale.into());
    }
    if outcome("unknown_status") {
        return Err(ApiError::internal(anyhow::anyhow!(
            "event {} has a status seating_reserve does not know",
            r.event_id
        )));
    }
    if let Some(row) = rows.iter().find(|row| row.outcome == "limit") {
        return Err(SeatingError::HoldLimit {
            limit: state.max_held_seats,
            held: row.held,
        }
        .into());
    }
    if !rows.iter().all(|row| row.outcome == "held") || rows.len() != r.seats.len() {
        return Err(shortfall(&rows));
    }
    let (mut seats, mut currency, mut expires_at) = (Vec::with_capacity(rows.len()), None, None);
    for row in rows {
        currency = currency.or(row.currency);
        expires_at = expires_at.or(row.expires_at);
        seats.push(HeldSeat {
            seat_id: row.id.ok_or_else(|| incomplete("id"))?,
            section: row.section.ok_or_else(|| incomplete("section"))?,
            row: row.row.ok_or_else(|| incomplete("row"))?,
            number: row.number.ok_or_else(|| incomplete("number"))?,
            price: row.price.ok_or_else(|| incomplete("price"))?,
        });
    }
    tracing::info!(%hold_id, "seats held");
    Ok(HoldView {
        hold_id,
        event_id: r.event_id,
        holder_id: r.holder_id,
        status: HoldStatus::Active,
        // Only an event cancelled before its inventory has no currency (the table's CHECK),
        // and a cancelled event holds nothing.
        expires_at: expires_at.ok_or_else(|| incomplete("expires_at"))?,
        currency: currency.ok_or_else(|| incomplete("currency"))?,
        seats,
        order_id: None,
    })
}

fn incomplete(column: &str) -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "seating_reserve held seats without {column}"
    ))
}

/// Why a reserve held nothing although the event is on sale: seats that are not the event's
/// (422), or seats taken (409).
fn shortfall(rows: &[ReserveRow]) -> ApiError {
    let ids = |outcome: &str| -> Vec<Uuid> {
        rows.iter()
            .filter(|row| row.outcome == outcome)
            .filter_map(|row| row.id)
            .collect()
    };
    let unknown = ids("unknown");
    if !unknown.is_empty() {
        let list: Vec<String> = unknown.iter().map(Uuid::to_string).collect();
        return ApiError::field(
            "seatIds",
            format!("not seats of this event: {}", list.join(", ")),
        );
    }
    SeatingError::SeatsTaken(ids("taken")).into()
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
/// cannot be released: its seats are sold (409). One statement (`seating_release`): the hold's
/// lock, its status, the seats freed and the answer's rows.
#[tracing::instrument(skip_all, fields(%hold_id))]
pub async fn release(state: &AppState, caller: &Caller, hold_id: Uuid) -> ApiResult<HoldView> {
    // A buyer sees their own holds only; a service granted `seating:holds`, anyone's.
    let holder = if caller.has(Scope::SeatingHolds) {
        None
    } else {
        Some(caller.user_id().ok_or(SeatingError::HoldNotFound)?)
    };
    let rows = holds::release(&state.pool, hold_id, holder).await?;
    let first = rows.first().ok_or(SeatingError::HoldNotFound)?;
    // The effective status: an active hold past its expiry is expired, and releasing it changes
    // nothing (its seats already block no one).
    match first.status {
        HoldStatus::Released | HoldStatus::Expired => {}
        HoldStatus::Allocated => {
            return Err(SeatingError::HoldNotActive(
                "The hold was allocated to an order; its seats are sold.".into(),
            )
            .into());
        }
        HoldStatus::Active => {
            return Err(ApiError::internal(anyhow::anyhow!(
                "seating_release left hold {hold_id} active"
            )));
        }
    }
    Ok(HoldView {
        hold_id,
        event_id: first.event_id,
        holder_id: first.holder_id,
        status: first.status,
        expires_at: first.expires_at,
        currency: first.currency,
        order_id: first.order_id,
        seats: rows.into_iter().map(|row| row.seat.into()).collect(),
    })
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
