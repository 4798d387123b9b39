//! The compact seat map: its status, its layout, and its live stream.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use service_kit::Problem;
use service_kit::extract::{Path, Query};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::api::{LayoutQuery, SeatMapLayout, SeatMapStatus, SeatMapStreamEvent};
use crate::error::ApiResult;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(layout))
        .routes(routes!(stream))
}

/// Answers must be revalidated (`If-None-Match`, a `304` when unchanged).
pub(super) const REVALIDATE: &str = "no-cache";
/// A layout asked for by its version never changes.
const FOR_EVER: &str = "public, max-age=31536000, immutable";

/// `body` as JSON with its strong `ETag`, or `304` when `If-None-Match` names it.
pub(super) fn cached(
    request: &HeaderMap,
    etag: &str,
    cache_control: &'static str,
    body: Bytes,
) -> Response {
    let tag = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"\""));
    let control = HeaderValue::from_static(cache_control);
    // Weak comparison, as RFC 9110 asks for GET.
    let known = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|c| c == "*" || c.trim_start_matches("W/") == etag);
    if known {
        return (
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, tag), (header::CACHE_CONTROL, control)],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, tag),
            (header::CACHE_CONTROL, control),
        ],
        body,
    )
        .into_response()
}

/// The event's version and one character per seat in layout order (`A` available, `H` held,
/// `S` sold), from memory, at most `SEATMAP_REFRESH_MS` old. `ETag` is the version.
#[utoipa::path(get, path = "/v1/events/{eventId}/seatmap/status", tag = "seats",
    params(("eventId" = Uuid, Path), ("If-None-Match" = Option<String>, Header)),
    responses((status = 200, body = SeatMapStatus), (status = 304, description = "Unchanged"),
        (status = 404, body = Problem)))]
pub async fn status(
    State(state): State<AppState>,
    Path(event_id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let map = state.seat_maps.snapshot(event_id).await?;
    let etag = format!("\"s{}\"", map.version);
    Ok(cached(&headers, &etag, REVALIDATE, map.status_json()))
}

/// Where each seat is, its price and its id, in the order of the statuses. Cacheable for ever
/// when asked for by its version (`?v=`, the status's `layoutVersion`).
#[utoipa::path(get, path = "/v1/events/{eventId}/seatmap/layout", tag = "seats",
    params(("eventId" = Uuid, Path), LayoutQuery, ("If-None-Match" = Option<String>, Header)),
    responses((status = 200, body = SeatMapLayout), (status = 304, description = "Unchanged"),
        (status = 404, body = Problem)))]
pub async fn layout(
    State(state): State<AppState>,
    Path(event_id): Path<Uuid>,
    Query(query): Query<LayoutQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let map = state.seat_maps.snapshot(event_id).await?;
    let layout = &map.layout;
    let control = if query.v == Some(layout.version) {
        FOR_EVER
    } else {
        REVALIDATE
    };
    let etag = format!("\"l{}\"", layout.version);
    Ok(cached(&headers, &etag, control, layout.json.clone()))
}

/// Server-Sent Events: a `snapshot` (the status) first, then a `delta` per change, each with the
/// version as its `id`. `Last-Event-ID` resumes from a version (a `snapshot` when it is too
/// old); a comment every `SEATMAP_HEARTBEAT_SECONDS`; `503` beyond `SEATMAP_MAX_SUBSCRIBERS`.
#[utoipa::path(get, path = "/v1/events/{eventId}/seatmap/stream", tag = "seats",
    params(("eventId" = Uuid, Path), ("Last-Event-ID" = Option<i64>, Header)),
    responses(
        (status = 200, content_type = "text/event-stream",
            description = "`event: snapshot` (data: SeatMapStatus) then `event: delta` (data: SeatMapDelta)",
            body = SeatMapStreamEvent),
        (status = 404, body = Problem),
        (status = 503, description = "Too many subscribers on this replica; see Retry-After", body = Problem)))]
pub async fn stream(
    State(state): State<AppState>,
    Path(event_id): Path<Uuid>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    let subscription = state.seat_maps.subscribe(event_id, last).await?;
    let heartbeat = state.seat_maps.settings().heartbeat;
    Ok(Sse::new(subscription.into_stream())
        .keep_alive(KeepAlive::new().interval(heartbeat).text("heartbeat"))
        .into_response())
}
