use axum::extract::State;
use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::auth::{Admins, Authorized, Caller};
use service_kit::extract::{ClientAddress, Json, Path};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::accounts;
use crate::api::{RegisterRequest, RoleRequest, UpdateProfileRequest, UserView};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(get_me, update_me))
        .routes(routes!(get_user))
        .routes(routes!(set_role))
}

/// Register a customer account.
#[utoipa::path(post, path = "/v1/users", tag = "users", request_body = RegisterRequest,
    responses(
        (status = 201, body = UserView),
        (status = 400, description = "Malformed JSON", body = Problem),
        (status = 409, description = "E-mail taken (in any letter case)", body = Problem),
        (status = 422, description = "Invalid name, e-mail, password or phone", body = Problem),
        (status = 429, description = "Too many registrations from this address; see Retry-After", body = Problem),
        (status = 503, description = "The password hashers are busy; see Retry-After", body = Problem),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Json(request): Json<RegisterRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    let user = accounts::register(&state, address, request).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// The caller's own account.
#[utoipa::path(get, path = "/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
pub async fn get_me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<UserView>> {
    Ok(Json(accounts::me(&state, &caller).await?.into()))
}

/// Change the caller's name or phone.
#[utoipa::path(patch, path = "/v1/users/me", tag = "users", security(("bearer" = [])),
    request_body = UpdateProfileRequest,
    responses((status = 200, body = UserView), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn update_me(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<UpdateProfileRequest>,
) -> ApiResult<Json<UserView>> {
    let changes = request.validate()?;
    Ok(Json(
        accounts::update_me(&state, &caller, changes).await?.into(),
    ))
}

/// A user, for themselves, admins and services.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserView), (status = 401, body = Problem),
        (status = 404, description = "Unknown, or not visible to the caller", body = Problem)))]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(accounts::get(&state, &caller, id).await?.into()))
}

/// Change a user's role (admins only).
#[utoipa::path(patch, path = "/v1/users/{id}/role", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = RoleRequest,
    responses((status = 200, body = UserView), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn set_role(
    State(state): State<AppState>,
    caller: Authorized<Admins>,
    Path(id): Path<Uuid>,
    Json(request): Json<RoleRequest>,
) -> ApiResult<Json<UserView>> {
    Ok(Json(
        accounts::set_role(&state, &caller, id, &request)
            .await?
            .into(),
    ))
}
