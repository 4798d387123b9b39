//! Inventory (from catalog), the seat list and map (for buyers), and cancellation.

use service_kit::money::Currency;
use service_kit::paging::Paging;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::api::{InventoryRequest, InventoryView, SeatList, SeatQuery, SeatView};
use crate::db::events::EventRow;
use crate::db::{events, holds, seats};
use crate::domain::{EventStatus, SeatStatus};
use crate::error::{ApiError, ApiResult, SeatingError};
use crate::state::AppState;

/// The idempotent upsert catalog calls when it publishes an event (services only: the route's
/// extractor checks, before the body is read).
#[tracing::instrument(skip_all, fields(%event_id, seats = request.seats.len()))]
pub async fn upsert(
    state: &AppState,
    event_id: Uuid,
    request: InventoryRequest,
) -> ApiResult<InventoryView> {
    let inventory = request.validate()?;
    let currency = inventory.currency;
    let publication = inventory.publication;
    // A publication's event waits as a draft until its last request opens it.
    let initial = if publication.is_some() {
        EventStatus::Draft
    } else {
        EventStatus::OnSale
    };
    let mut tx = state.pool.begin().await?;
    let event = events::upsert_locked(&mut tx, event_id, currency, initial).await?;
    if event.cancelled() {
        return Err(SeatingError::NotOnSale.into());
    }
    if let Some(priced_in) = event.currency.filter(|c| *c != currency) {
        return Err(SeatingError::InventoryConflict(format!(
            "The event's seats are priced in {priced_in}, not {currency}."
        ))
        .into());
    }
    let draft = event.status == EventStatus::Draft;
    if let (Some(publication), true) = (publication, draft) {
        seats::clear_replaced_places(&mut tx, event_id, &inventory.seats, publication.id).await?;
    }
    let matched = seats::upsert(
        &mut tx,
        event_id,
        &inventory.seats,
        publication.map(|p| p.id),
    )
    .await?;
    if matched.len() < inventory.seats.len() {
        let foreign: Vec<String> = inventory
            .seats
            .iter()
            .filter(|s| !matched.contains(&s.id))
            .map(|s| s.id.to_string())
            .collect();
        return Err(SeatingError::InventoryConflict(format!(
            "These seat ids belong to another event: {}",
            foreign.join(", ")
        ))
        .into());
    }
    if let Some(publication) = publication.filter(|p| p.open && draft) {
        open(&mut tx, event_id, publication.id).await?;
    }
    let seat_count = seats::count(&mut *tx, event_id).await?;
    tx.commit().await?;
    tracing::info!(seat_count, "inventory upserted");
    Ok(InventoryView {
        event_id,
        currency: inventory.currency,
        seat_count,
    })
}

/// Opens a draft for sale on its publication's last request: the seats no request of the
/// publication sent go first. The event was never open, so none of them can be held or sold;
/// if one were, the draft stays closed and the request fails (500) rather than sell a seat
/// catalog no longer has or drop one a buyer has.
async fn open(conn: &mut PgConnection, event_id: Uuid, publication: Uuid) -> ApiResult<()> {
    let (removed, left) = seats::remove_unpublished(conn, event_id, publication).await?;
    if left > 0 {
        return Err(ApiError::internal(anyhow::anyhow!(
            "draft event {event_id}: {left} seats of another publication are held or sold"
        )));
    }
    events::open(conn, event_id).await?;
    tracing::info!(%publication, removed, "event opened");
    Ok(())
}

/// Handles `event.cancelled`: no hold is taken from now on, and active holds are released.
/// Runs inside the inbox transaction.
pub async fn cancel(conn: &mut PgConnection, event_id: Uuid, reason: &str) -> sqlx::Result<()> {
    events::cancel(conn, event_id, reason).await?;
    let released = holds::release_all_of_event(conn, event_id).await?;
    tracing::info!(%event_id, released, "event cancelled");
    Ok(())
}

pub async fn list_seats(state: &AppState, query: &SeatQuery) -> ApiResult<SeatList> {
    let status = query
        .status
        .as_deref()
        .map(SeatStatus::parse)
        .transpose()
        .map_err(|m| ApiError::field("status", m))?;
    let paging = Paging::parse(query.page, query.limit).map_err(ApiError::Validation)?;
    let event = events::find(&state.pool, query.event_id)
        .await?
        .filter(EventRow::published)
        .ok_or(SeatingError::EventNotFound)?;
    let (rows, total) = seats::list(
        &state.pool,
        event.id,
        status,
        query.section.as_deref(),
        paging,
    )
    .await?;
    Ok(SeatList {
        event_id: event.id,
        currency: currency_code(event.currency),
        page: paging.page,
        limit: paging.limit,
        total,
        items: rows
            .into_iter()
            .map(|s| SeatView {
                status: s.status,
                seat_id: s.id,
                section: s.section,
                row: s.row,
                number: s.number,
                price: s.price,
            })
            .collect(),
    })
}

/// The event's currency as lists show it: `XXX` (ISO 4217's "no currency") for an event that was
/// cancelled before any inventory arrived.
pub fn currency_code(currency: Option<Currency>) -> String {
    currency.map_or_else(|| "XXX".to_owned(), |c| c.to_string())
}
