//! Who may see and change what: drafts belong to their organizer (and admins); published events
//! are public; venues are written by organizers and admins.

use service_kit::Problem;
use service_kit::auth::{Caller, Role, Scope};
use uuid::Uuid;

use crate::db::events::{Audience, EventRow};
use crate::error::{ApiError, ApiResult, CatalogError};

pub fn audience(caller: Option<&Caller>) -> Audience {
    match caller {
        Some(c) if c.is_admin() || c.has(Scope::CatalogRead) => Audience::Admin,
        Some(c) if c.role == Role::Organizer => {
            c.user_id().map_or(Audience::Public, Audience::Organizer)
        }
        _ => Audience::Public,
    }
}

fn owns(caller: &Caller, event: &EventRow) -> bool {
    caller.is_admin()
        || (caller.role == Role::Organizer && caller.user_id() == Some(event.organizer_id))
}

/// 404 for a draft the caller may not see.
pub fn visible(caller: Option<&Caller>, event: EventRow) -> ApiResult<EventRow> {
    let sees = event.status.published()
        || caller.is_some_and(|c| c.has(Scope::CatalogRead) || owns(c, &event));
    if sees {
        Ok(event)
    } else {
        Err(CatalogError::NotFound("event").into())
    }
}

/// The owner organizer or an admin; 403 for others who can see it, 404 for those who cannot.
pub fn owner(caller: &Caller, event: EventRow) -> ApiResult<EventRow> {
    let event = visible(Some(caller), event)?;
    if owns(caller, &event) {
        Ok(event)
    } else {
        Err(ApiError::Problem(Problem::forbidden().with_detail(
            "Only the event's organizer or an admin may change it.",
        )))
    }
}

/// Organizers and admins create.
pub fn organizer(caller: &Caller) -> ApiResult<Uuid> {
    caller.require(&[Role::Organizer, Role::Admin])?;
    caller
        .user_id()
        .ok_or_else(|| ApiError::Problem(Problem::forbidden()))
}
