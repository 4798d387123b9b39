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
use crate::clients::seating::{PushError, SEATS_PER_REQUEST};
use crate::config::SERVICE;
use crate::db::events::{self, Changes, EventFields, EventRow};
use crate::db::seats::SeatRow;
use crate::db::{seats, venues};
use crate::domain::{EventStatus, EventType, slug_for};
use crate::error::{ApiError, ApiResult, CatalogError};
use crate::state::AppState;
use service_kit::problem::Fields;
use service_kit::telemetry::{current_request_id, with_request_id};
use tracing::Instrument;

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
    if events::publication_in_progress(&mut *tx, id).await? {
        return Err(being_published());
    }
    let defs = request.validate(event.base_price)?;
    // A publication whose lease ran out must not put these seats on sale without sending them.
    events::clear_publication(&mut *tx, id, None).await?;
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

/// Publishes a draft: seating gets the seats, and only then is the event on sale. When seating
/// is down the event stays a draft (503).
#[tracing::instrument(skip_all, fields(event_id = %id))]
pub async fn publish(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<EventView> {
    publish_event(state, id, |event| access::owner(caller, event)).await?;
    view(state, id).await
}

/// Publishes the event if `allow` lets the event (its row as read) through, in three steps,
/// none holding a transaction or a lock while seating is called:
///
/// 1. a short transaction records a new publication (`publication_id`), after the checks: a
///    draft, with seats, and no other publication in progress (its lease not run out);
/// 2. the seats go to seating in requests of [`SEATS_PER_REQUEST`], each naming the
///    publication, the last opening the event there; before each further request the lease is
///    renewed, and the publication stops if it is no longer the event's;
/// 3. the event goes on sale, only if the publication is still its own (`409` otherwise: it
///    was cancelled, or taken over, meanwhile).
///
/// While seats are sent, they cannot be redefined and another publish is refused. A failure
/// forgets the publication (best effort), so that a retry may start at once. Steps 2 and 3 run
/// in a task of their own: a client that gives up does not leave a publication half done.
pub async fn publish_event(
    state: &AppState,
    id: Uuid,
    allow: impl FnOnce(EventRow) -> ApiResult<EventRow>,
) -> ApiResult<()> {
    let (event, publication) = begin_publication(state, id, allow).await?;
    let task = {
        let state = state.clone();
        async move { complete_publication(&state, &event, publication).await }
            .instrument(tracing::Span::current())
    };
    let handle = match current_request_id() {
        Some(request_id) => tokio::spawn(with_request_id(request_id, task)),
        None => tokio::spawn(task),
    };
    handle.await.map_err(ApiError::internal)?
}

/// Step 1 of [`publish_event`]: the checks, and the new publication recorded.
async fn begin_publication(
    state: &AppState,
    id: Uuid,
    allow: impl FnOnce(EventRow) -> ApiResult<EventRow>,
) -> ApiResult<(EventRow, Uuid)> {
    let mut tx = state.pool.begin().await?;
    let event = events::lock(&mut tx, id)
        .await?
        .ok_or(CatalogError::NotFound("event"))?;
    let event = allow(event)?;
    if event.status != EventStatus::Draft {
        return Err(
            CatalogError::State(format!("The event is {}, not a draft.", event.status)).into(),
        );
    }
    if seats::count(&mut *tx, id).await? == 0 {
        return Err(no_seats());
    }
    let publication = Uuid::now_v7();
    if !events::begin_publication(&mut tx, id, publication).await? {
        return Err(being_published());
    }
    tx.commit().await?;
    Ok((event, publication))
}

/// Steps 2 and 3 of [`publish_event`]: the draft's seats to seating, no transaction held, then
/// the event on sale if the publication is still its own.
async fn complete_publication(
    state: &AppState,
    event: &EventRow,
    publication: Uuid,
) -> ApiResult<()> {
    let sent = match seats::list(&state.pool, event.id).await {
        Ok(seats) => send_seats(state, event, &seats, publication, Lease::Held).await,
        Err(e) => Err(e.into()),
    };
    if let Err(e) = sent {
        if let Err(clear) =
            events::clear_publication(&state.pool, event.id, Some(publication)).await
        {
            tracing::warn!(error = %clear, %publication, "a failed publication could not be forgotten; a retry waits for its lease");
        }
        return Err(e);
    }
    if !events::finish_publication(&state.pool, event.id, publication).await? {
        return Err(publication_lost());
    }
    tracing::info!(%publication, "event published");
    Ok(())
}

/// Opens an event that is already on sale in the catalogue (the import's) in seating with these
/// of its seats: one publication, as [`publish_event`] sends it, without the catalogue's lease.
pub async fn open_in_seating(
    state: &AppState,
    event: &EventRow,
    seats: &[SeatRow],
) -> ApiResult<()> {
    send_seats(state, event, seats, Uuid::now_v7(), Lease::NotHeld).await
}

/// Whether the publication holds the catalogue's lease on the event, renewed before each
/// further request (and ending the push once it is no longer the event's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lease {
    Held,
    NotHeld,
}

/// Sends the seats as one publication: every request names it, the last opens the event.
async fn send_seats(
    state: &AppState,
    event: &EventRow,
    seats: &[SeatRow],
    publication: Uuid,
    lease: Lease,
) -> ApiResult<()> {
    let chunks: Vec<&[SeatRow]> = seats.chunks(SEATS_PER_REQUEST).collect();
    if chunks.is_empty() {
        return Err(no_seats());
    }
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.into_iter().enumerate() {
        if i > 0
            && lease == Lease::Held
            && !events::renew_publication(&state.pool, event.id, publication).await?
        {
            return Err(publication_lost());
        }
        state
            .seating
            .put_inventory(event.id, event.currency, chunk, publication, i == last)
            .await
            .map_err(refused_by_seating)?;
    }
    Ok(())
}

fn refused_by_seating(e: PushError) -> ApiError {
    match e {
        PushError::Unavailable(detail) => CatalogError::SeatingUnavailable(detail).into(),
        // Seating's 409: the event is cancelled there, or a seat id belongs to another event.
        PushError::Refused { status: 409, body } => {
            CatalogError::State(format!("Seating refused the seats: {body}")).into()
        }
        // Anything else (401, 403, 413, 422) is our fault, not the event's.
        PushError::Refused { status, body } => {
            ApiError::Internal(anyhow::anyhow!("seating answered {status}: {body}"))
        }
    }
}

fn no_seats() -> ApiError {
    CatalogError::State("Define the event's seats before publishing it.".into()).into()
}

fn publication_lost() -> ApiError {
    CatalogError::State(
        "The event was cancelled, or published by another request, while its seats were sent."
            .into(),
    )
    .into()
}

fn being_published() -> ApiError {
    CatalogError::State("The event is being published; try again in a moment.".into()).into()
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
