//! The stylesheet and scripts, embedded in the binary: the shop works offline, with no CDN and
//! no external font, and the Content-Security-Policy allows these files only.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../static/app.css"),
    ),
    (
        "seatmap.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/seatmap.js"),
    ),
    (
        "countdown.js",
        "text/javascript; charset=utf-8",
        include_str!("../static/countdown.js"),
    ),
];

/// `GET /static/{file}`: revalidated by `ETag` (the build's version and the file's size), so a
/// new release is picked up at once and an unchanged file costs a `304`.
pub async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some((_, kind, body)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}-{}\"", service_kit::app::VERSION, body.len());
    let cache = [
        (
            header::ETAG,
            HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"0\"")),
        ),
        (
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ),
    ];
    if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return (StatusCode::NOT_MODIFIED, cache).into_response();
    }
    (cache, [(header::CONTENT_TYPE, *kind)], *body).into_response()
}
