//! Conditional GETs: an `ETag` on JSON answers and `304 Not Modified` for `If-None-Match`.
//!
//! The tag is a digest of the body, so it changes exactly when the answer does, whatever made it
//! change; answers that depend on the caller say so with `Vary: Authorization`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// `value` as JSON with its `ETag`, or 304 when the client already has it.
pub fn json_with_etag<T: Serialize>(request: &HeaderMap, value: &T) -> Response {
    let body = match serde_json::to_vec(value) {
        Ok(body) => body,
        Err(e) => return crate::Problem::internal_from(&e).into_response(),
    };
    let digest = Sha256::digest(&body);
    let tag = format!("\"{}\"", URL_SAFE_NO_PAD.encode(&digest[..16]));
    let etag = HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"\""));
    let vary = (header::VARY, HeaderValue::from_static("Authorization"));
    if matches(request, &tag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), vary]).into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::ETAG, etag),
            vary,
        ],
        body,
    )
        .into_response()
}

/// Whether `If-None-Match` names `tag` (weak comparison, as RFC 9110 asks for GET).
fn matches(request: &HeaderMap, tag: &str) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matching_tag_is_304_and_another_is_200() {
        let value = serde_json::json!({"a": 1});
        let first = json_with_etag(&HeaderMap::new(), &value);
        assert_eq!(first.status(), StatusCode::OK);
        let tag = first.headers()[header::ETAG].clone();

        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, tag.clone());
        assert_eq!(
            json_with_etag(&headers, &value).status(),
            StatusCode::NOT_MODIFIED
        );

        let weak = HeaderValue::from_str(&format!("\"x\", W/{}", tag.to_str().unwrap())).unwrap();
        headers.insert(header::IF_NONE_MATCH, weak);
        assert_eq!(
            json_with_etag(&headers, &value).status(),
            StatusCode::NOT_MODIFIED
        );

        let changed = serde_json::json!({"a": 2});
        headers.insert(header::IF_NONE_MATCH, tag);
        assert_eq!(json_with_etag(&headers, &changed).status(), StatusCode::OK);
    }
}
