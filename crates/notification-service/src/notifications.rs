//! What the notification API does: read one, list them. Who may see what is decided here: a
//! notification is its user's, and admins' and services'; anyone else gets the answer an unknown
//! id gets.

use service_kit::auth::{Caller, Scope};
use service_kit::paging::Page;
use uuid::Uuid;

use crate::api::{NotificationQuery, NotificationView};
use crate::db::notifications::{self, ListFilter};
use crate::error::{ApiResult, NotificationError};
use crate::state::AppState;

/// A notification, for its user, admins and services granted `notifications:read` (404 for
/// anyone else).
pub async fn get(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<NotificationView> {
    let row = notifications::find(&state.pool, id)
        .await?
        .filter(|n| caller.may_act_for(n.user_id, Scope::NotificationsRead))
        .ok_or(NotificationError::NotFound)?;
    Ok(row.into())
}

/// The caller's notifications, newest first; admins (and services granted `notifications:read`)
/// may list anyone's, by user
/// or order. A user naming another user gets 403; a user naming another user's order gets an
/// empty page (the order's notifications are filtered to their own).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &NotificationQuery,
) -> ApiResult<Page<NotificationView>> {
    let paging = query.paging()?;
    let filter = if caller.is_admin() || caller.has(Scope::NotificationsRead) {
        ListFilter {
            user_id: query.user_id,
            order_id: query.order_id,
        }
    } else {
        let me = caller
            .user_id()
            .ok_or(NotificationError::OthersNotifications)?;
        if query.user_id.is_some_and(|u| u != me) {
            return Err(NotificationError::OthersNotifications.into());
        }
        ListFilter {
            user_id: Some(me),
            order_id: query.order_id,
        }
    };
    let (rows, total) =
        notifications::list(&state.pool, filter, paging.limit, paging.offset()).await?;
    Ok(paging.page_of(rows.into_iter().map(Into::into).collect(), total))
}
