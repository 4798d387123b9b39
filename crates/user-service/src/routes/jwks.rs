use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(jwks))
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JWK set (RFC 7517) of Ed25519 keys")))]
pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        // Verifiers cache it; they refetch on an unknown `kid` anyway.
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(serde_json::json!({ "keys": [state.key.jwk()] })),
    )
}
