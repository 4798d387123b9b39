use axum::extract::State;
use service_kit::Problem;
use service_kit::auth::Caller;
use service_kit::extract::{Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::HoldView;
use crate::error::ApiResult;
use crate::holds;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_hold))
}

/// A hold, for its holder and services.
#[utoipa::path(get, path = "/v1/holds/{holdId}", tag = "holds", security(("bearer" = [])),
    params(("holdId" = Uuid, Path)),
    responses((status = 200, body = HoldView), (status = 401, body = Problem),
        (status = 404, description = "Unknown, or another buyer's", body = Problem)))]
pub async fn get_hold(
    State(state): State<AppState>,
    caller: Caller,
    Path(hold_id): Path<Uuid>,
) -> ApiResult<Json<HoldView>> {
    Ok(Json(holds::get(&state, &caller, hold_id).await?))
}
