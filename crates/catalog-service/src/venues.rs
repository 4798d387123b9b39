//! Venues.

use service_kit::Problem;
use service_kit::auth::Caller;
use uuid::Uuid;

use crate::access;
use crate::api::{Page, Paging, VenuePatch, VenueRequest, VenueView};
use crate::db::venues;
use crate::error::{ApiError, ApiResult, CatalogError};
use crate::state::AppState;

pub async fn create(
    state: &AppState,
    caller: &Caller,
    request: &VenueRequest,
) -> ApiResult<VenueView> {
    let author = access::organizer(caller)?;
    let venue = request.validate()?;
    Ok(venues::insert(&state.pool, &venue, Some(author))
        .await?
        .into())
}

pub async fn get(state: &AppState, id: Uuid) -> ApiResult<VenueView> {
    Ok(venues::find(&state.pool, id)
        .await?
        .ok_or(CatalogError::NotFound("venue"))?
        .into())
}

pub async fn list(
    state: &AppState,
    city: Option<&str>,
    paging: Paging,
) -> ApiResult<Page<VenueView>> {
    // An empty `city=` means no filter, as for events.
    let city = city.filter(|c| !c.trim().is_empty());
    let (rows, total) = venues::list(&state.pool, city, paging.slice()).await?;
    Ok(Page {
        items: rows.into_iter().map(Into::into).collect(),
        page: paging.page,
        limit: paging.limit,
        total,
    })
}

/// Its creator or an admin.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    patch: &VenuePatch,
) -> ApiResult<VenueView> {
    let author = access::organizer(caller)?;
    let current = venues::find(&state.pool, id)
        .await?
        .ok_or(CatalogError::NotFound("venue"))?;
    if !caller.is_admin() && current.created_by != Some(author) {
        return Err(ApiError::Problem(Problem::forbidden().with_detail(
            "Only the venue's creator or an admin may change it.",
        )));
    }
    let merged = VenueRequest {
        name: patch.name.clone().unwrap_or(current.name),
        city: patch.city.clone().unwrap_or(current.city),
        address: patch.address.clone().or(current.address),
        capacity: patch
            .capacity
            .unwrap_or_else(|| i64::from(current.capacity)),
    };
    let venue = merged.validate()?;
    Ok(venues::update(&state.pool, id, &venue).await?.into())
}
