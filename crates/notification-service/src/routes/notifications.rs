use axum::extract::State;
use service_kit::Problem;
use service_kit::auth::Caller;
use service_kit::extract::{Json, Path, Query};
use service_kit::paging::Page;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{NotificationQuery, NotificationView};
use crate::error::ApiResult;
use crate::notifications;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(get_notification))
}

/// Notifications, newest first: a user's own (naming another user is 403); admins and services
/// anyone's, by `userId` and `orderId`.
#[utoipa::path(get, path = "/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(NotificationQuery),
    responses((status = 200, body = Page<NotificationView>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<NotificationQuery>,
) -> ApiResult<Json<Page<NotificationView>>> {
    Ok(Json(notifications::list(&state, &caller, &query).await?))
}

/// A notification, for its user, admins and services (404 for anyone else).
#[utoipa::path(get, path = "/v1/notifications/{id}", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = NotificationView), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_notification(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<NotificationView>> {
    Ok(Json(notifications::get(&state, &caller, id).await?))
}
