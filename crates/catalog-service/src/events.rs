//! Events: creation, reads and search, edits, seat definition, publishing and cancellation.

use chrono::Utc;
use service_kit::auth::Caller;
use service_kit::messages::outbox;
use service_kit::messages::payloads::EventCancelled;
use uuid::Uuid;

use crate::access;
use crate::api::{
    CancelRequest, EventPatch, EventQuery, EventRequest, EventView, Page, SeatCount, SeatList,
    SeatsRequest, text,
};
use crate::clients::seating::PushError;
use crate::config::SERVICE;
use crate::db::events::{self, Changes, EventFields, EventRow};
use crate::db::seats::SeatRow;
use crate::db::{seats, venues};
use crate::domain::{EventStatus, EventType, slug_for};
use crate::error::{ApiError, ApiResult, CatalogError};
use crate::state::AppState;
use service_kit::problem::Fields;

/// A new event, always a draft, owned by the caller.
#[tracing::instrument(skip_all)]
pub async fn create(
    state: &AppState,
    caller: &Caller,
    request: &EventRequest,
) -> ApiResult<EventView> {
    let organizer = access::organizer(caller)?;
    let new = request.validate(Utc::now())?;
    if venues::find(&state.pool, new.venue_id).await?.is_none() {
        return Err(ApiError::field("venueId", "no venue with this id"));
    }
    let id = Uuid::now_v7();
    events::upsert(
        &state.pool,
        &EventFields {
            id,
            title: &new.title,
            slug: &slug_for(&new.title, id),
            event_type: new.event_type,
            status: EventStatus::Draft,
            starts_at: new.starts_at,
            currency: new.currency,
            base_price: new.base_price,
            description: new.description.as_deref(),
            venue_id: new.venue_id,
            organizer_id: organizer,
            legacy_id: None,
        },
    )
    .await?;
    tracing::info!(event_id = %id, "event created");
    view(state, id).await
}

async fn load(state: &AppState, id: Uuid) -> ApiResult<EventRow> {
    events::find(&state.pool, id)
        .await?
        .ok_or_else(|| CatalogError::NotFound("event").into())
}

async fn view(state: &AppState, id: Uuid) -> ApiResult<EventView> {
    Ok(load(state, id).await?.into())
}

pub async fn get(state: &AppState, caller: Option<&Caller>, id: Uuid) -> ApiResult<EventView> {
    Ok(access::visible(caller, load(state, id).await?)?.into())
}

pub async fn list(
    state: &AppState,
    caller: Option<&Caller>,
    query: &EventQuery,
) -> ApiResult<Page<EventView>> {
    let (filter, paging) = query.validate()?;
    let (rows, total) = events::list(
        &state.pool,
        &filter,
        access::audience(caller),
        paging.slice(),
    )
    .await?;
    Ok(Page {
        items: rows.into_iter().map(Into::into).collect(),
        page: paging.page,
        limit: paging.limit,
        total,
    })
}

/// Title and description always; type, date, price and venue only while a draft.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    patch: &EventPatch,
) -> ApiResult<EventView> {
    let mut tx = state.pool.begin().await?;
    let event = events::lock(&mut tx, id)
        .await?
        .ok_or(CatalogError::NotFound("event"))?;
    let event = access::owner(caller, event)?;
    let draft_only = patch.event_type.is_some()
        || patch.starts_at.is_some()
        || patch.base_price.is_some()
        || patch.venue_id.is_some();
    if draft_only && event.status != EventStatus::Draft {
        return Err(CatalogError::State(
            "Only the title and description of a published event can change.".into(),
        )
        .into());
    }
    if event.status == EventStatus::Cancelled {
        return Err(CatalogError::State("A cancelled event cannot change.".into()).into());
    }
    let mut f = Fields::default();
    let title = f.check(
        "title",
        patch.title.as_deref().map(|t| text(t, 200)).transpose(),
    );
    let description = f.check(
        "description",
        patch
            .description
            .as_deref()
            .map(|d| text(d, 5000))
            .transpose(),
    );
    let event_type = f.check(
        "eventType",
        patch
            .event_type
            .as_deref()
            .map(EventType::parse)
            .transpose(),
    );
    if let Some(starts_at) = patch.starts_at {
        f.require("startsAt", starts_at > Utc::now(), "must be in the future");
    }
    if let Some(price) = patch.base_price {
        f.require("basePrice", !price.is_negative(), "must not be negative");
    }
    let (title, description, event_type) = f
        .finish(match (title, description, event_type) {
            (Some(t), Some(d), Some(e)) => Some((t, d, e)),
            _ => None,
        })
        .map_err(ApiError::Validation)?;
    if let Some(venue_id) = patch.venue_id {
        if venues::find(&mut *tx, venue_id).await?.is_none() {
            return Err(ApiError::field("venueId", "no venue with this id"));
        }
    }
    events::update(
        &mut tx,
        id,
        &Changes {
            title: title.as_deref(),
            description: description.as_deref(),
            event_type,
            starts_at: patch.starts_at,
            base_price: patch.base_price,
            venue_id: patch.venue_id,
        },
    )
    .await?;
    tx.commit().await?;
    view(state, id).await
}

/// Defines (replaces) the seats of a draft.
pub async fn put_seats(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    request: &SeatsRequest,
) -> ApiResult<SeatCount> {
    let mut tx = state.pool.begin().await?;
    let event = events::lock(&mut tx, id)
        .await?
        .ok_or(CatalogError::NotFound("event"))?;
    let event = access::owner(caller, event)?;
    if event.status != EventStatus::Draft {
        return Err(CatalogError::State(
            "Seats can only be defined while the event is a draft.".into(),
        )
        .into());
    }
    let defs = request.validate(event.base_price)?;
    seats::replace(&mut tx, id, &defs).await?;
    let seat_count = i32::try_from(defs.len()).unwrap_or(i32::MAX);
    events::set_seat_count(&mut *tx, id, seat_count).await?;
    tx.commit().await?;
    Ok(SeatCount { seat_count })
}

pub async fn list_seats(
    state: &AppState,
    caller: Option<&Caller>,
    id: Uuid,
) -> ApiResult<SeatList> {
    access::visible(caller, load(state, id).await?)?;
    Ok(SeatList {
        items: seats::list(&state.pool, id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    })
}

/// Pushes the seats to seating, and only then puts the event on sale. When seating is down the
/// event stays a draft (503).
#[tracing::instrument(skip_all, fields(event_id = %id))]
pub async fn publish(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<EventView> {
    // The event row stays locked while seating gets the seats, so that they cannot be redefined
    // (or the event cancelled) between what seating receives and the event going on sale.
    let mut tx = state.pool.begin().await?;
    let event = events::lock(&mut tx, id)
        .await?
        .ok_or(CatalogError::NotFound("event"))?;
    let event = access::owner(caller, event)?;
    if event.status != EventStatus::Draft {
        return Err(
            CatalogError::State(format!("The event is {}, not a draft.", event.status)).into(),
        );
    }
    push_inventory(state, &event).await?;
    events::transition(&mut *tx, id, &[EventStatus::Draft], EventStatus::OnSale).await?;
    tx.commit().await?;
    tracing::info!("event published");
    view(state, id).await
}

/// Sends the event's seats to seating (also used by the import for events already on sale).
pub async fn push_inventory(state: &AppState, event: &EventRow) -> ApiResult<()> {
    let seats = seats::list(&state.pool, event.id).await?;
    push_seats(state, event, &seats).await
}

/// Sends these seats of the event to seating.
pub async fn push_seats(state: &AppState, event: &EventRow, seats: &[SeatRow]) -> ApiResult<()> {
    if seats.is_empty() {
        return Err(
            CatalogError::State("Define the event's seats before publishing it.".into()).into(),
        );
    }
    state
        .seating
        .push_inventory(event.id, event.currency, seats)
        .await
        .map_err(|e| match e {
            PushError::Unavailable(detail) => CatalogError::SeatingUnavailable(detail).into(),
            // Seating's 409: the event is cancelled there, or a seat id belongs to another event.
            PushError::Refused { status: 409, body } => {
                CatalogError::State(format!("Seating refused the seats: {body}")).into()
            }
            // Anything else (401, 403, 413, 422) is our fault, not the event's.
            PushError::Refused { status, body } => {
                ApiError::Internal(anyhow::anyhow!("seating answered {status}: {body}"))
            }
        })
}

/// Cancels the event for good and tells the fleet (`event.cancelled`), in one transaction.
/// Cancelling it again answers the cancelled event.
#[tracing::instrument(skip_all, fields(event_id = %id))]
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    request: &CancelRequest,
) -> ApiResult<EventView> {
    let mut tx = state.pool.begin().await?;
    let event = events::lock(&mut tx, id)
        .await?
        .ok_or(CatalogError::NotFound("event"))?;
    // Rights before the request: others learn nothing from its errors.
    access::owner(caller, event)?;
    let reason = text(&request.reason, 500).map_err(|m| ApiError::field("reason", m))?;
    if events::cancel(&mut tx, id, &reason).await? {
        outbox::enqueue(
            &mut tx,
            SERVICE,
            &EventCancelled {
                event_id: id,
                reason: reason.clone(),
            },
        )
        .await?;
        tracing::info!("event cancelled");
    }
    tx.commit().await?;
    view(state, id).await
}
