use axum::extract::State;
use axum::http::StatusCode;
use service_kit::Problem;
use service_kit::auth::Caller;
use service_kit::extract::{ClientAddress, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{LoginRequest, RefreshRequest, ServiceToken, ServiceTokenRequest, TokenPair};
use crate::error::{ApiError, ApiResult};
use crate::sessions::{self, Session};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(service_token))
}

impl From<Session> for TokenPair {
    fn from(session: Session) -> Self {
        Self {
            access_token: session.access.token,
            token_type: "Bearer".into(),
            expires_in: session.access.expires_in,
            refresh_token: session.refresh_token,
            user: session.user.into(),
        }
    }
}

/// Log in with e-mail and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenPair),
        (status = 401, description = "Unknown e-mail or wrong password (one answer for both)", body = Problem),
        (status = 429, description = "Too many failures for this e-mail or address; see Retry-After", body = Problem),
        (status = 503, description = "The password hashers are busy; see Retry-After", body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Json<TokenPair>> {
    let session = sessions::login(&state, &request.email, request.password, address).await?;
    Ok(Json(session.into()))
}

/// Trade a refresh token for a new pair (the old one stops working).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenPair),
        (status = 401, description = "Unknown, expired or reused token (reuse revokes the family)", body = Problem),
        (status = 422, body = Problem)))]
pub async fn refresh(
    State(state): State<AppState>,
    Json(request): Json<RefreshRequest>,
) -> ApiResult<Json<TokenPair>> {
    Ok(Json(
        sessions::refresh(&state, &request.refresh_token)
            .await?
            .into(),
    ))
}

/// End the session of a refresh token.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    request_body = RefreshRequest,
    responses((status = 204, description = "Logged out (also when the token was unknown)"),
        (status = 403, description = "A service token: services have no session", body = Problem)))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    Json(request): Json<RefreshRequest>,
) -> ApiResult<StatusCode> {
    let user_id = caller
        .user_id()
        .ok_or_else(|| ApiError::Problem(Problem::forbidden()))?;
    sessions::logout(&state, user_id, &request.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A service token (client credentials) for one of the configured services.
#[utoipa::path(post, path = "/v1/auth/service-token", tag = "auth", request_body = ServiceTokenRequest,
    responses((status = 200, body = ServiceToken),
        (status = 401, description = "Unknown client, or wrong secret", body = Problem)))]
pub async fn service_token(
    State(state): State<AppState>,
    Json(request): Json<ServiceTokenRequest>,
) -> ApiResult<Json<ServiceToken>> {
    let token = sessions::service_token(&state, &request.client_id, &request.client_secret)?;
    Ok(Json(ServiceToken {
        access_token: token.token,
        token_type: "Bearer".into(),
        expires_in: token.expires_in,
    }))
}
