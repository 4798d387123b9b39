//! RFC 9457 problem details: the one shape of every error answer in the fleet.
//!
//! Each service has its own error enum and turns it into a [`Problem`]; the kit turns the
//! framework's own rejections (malformed JSON, bad path or query values, unknown routes, bodies too
//! large, timeouts) into problems too, so no client ever sees a plain-text error.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// Where the problem types live; the last segment is the stable error code.
pub const TYPE_BASE: &str = "https://ticketing.example/problems/";

/// The media type of every error body.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects the errors of every field of a request before answering, so that a client can show
/// them all at once rather than one per try.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// The value, or `None` with the message recorded against `field`.
    pub fn check<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|m| self.push(field, m)).ok()
    }

    /// Records `message` against `field` unless `ok`.
    pub fn require(&mut self, field: &str, ok: bool, message: &str) {
        if !ok {
            self.push(field, message);
        }
    }

    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `value` when no field failed, else every error.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, Vec<FieldError>> {
        match value {
            Some(v) if self.0.is_empty() => Ok(v),
            _ => Err(self.0),
        }
    }
}

/// A problem details object. Build it with a constructor, then add detail or headers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    #[serde(serialize_with = "serialize_status")]
    #[schema(value_type = u16)]
    pub status: StatusCode,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Members beyond the standard ones (e.g. `conflicts` for a seat conflict).
    #[serde(flatten)]
    #[schema(ignore)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
    /// Response headers that belong to the problem (`Retry-After`, `WWW-Authenticate`).
    #[serde(skip)]
    #[schema(ignore)]
    headers: axum::http::HeaderMap,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
fn serialize_status<S: serde::Serializer>(status: &StatusCode, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u16(status.as_u16())
}

impl Problem {
    /// A problem with a stable `code` (the last segment of its `type`) and a human title.
    pub fn new(status: StatusCode, code: &str, title: impl Into<String>) -> Self {
        Self {
            type_uri: format!("{TYPE_BASE}{code}"),
            title: title.into(),
            status,
            detail: None,
            errors: Vec::new(),
            extensions: serde_json::Map::new(),
            headers: axum::http::HeaderMap::new(),
        }
    }

    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    #[must_use]
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    #[must_use]
    pub fn with_extension(mut self, key: &str, value: serde_json::Value) -> Self {
        self.extensions.insert(key.to_owned(), value);
        self
    }

    /// Adds a member holding `value` as JSON (the declined payment, the failed order).
    #[must_use]
    pub fn with_value(self, key: &str, value: &impl Serialize) -> Self {
        self.with_extension(key, serde_json::to_value(value).unwrap_or_default())
    }

    /// Adds `Retry-After` (seconds) to the response.
    #[must_use]
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.headers
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        self
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The stable code: the last segment of `type`.
    pub fn code(&self) -> &str {
        self.type_uri.rsplit('/').next().unwrap_or_default()
    }

    // The usual suspects, with the codes the whole fleet shares.

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", "Bad request").with_detail(detail)
    }

    /// 401, with the `WWW-Authenticate: Bearer` challenge of RFC 6750.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
        )
        .with_detail(detail)
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Not allowed")
            .with_detail("Your role does not allow this action.")
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found")
            .with_detail(format!("No {what} with that id is visible to you."))
    }

    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict").with_detail(detail)
    }

    /// 422 with one entry per invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Invalid request fields",
        )
        .with_detail("One or more fields are invalid; see `errors`.")
        .with_errors(errors)
    }

    /// 500. The cause must already be logged by the caller; it is never sent.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal server error",
        )
        .with_detail("Something went wrong on our side. Quote the X-Request-Id when reporting it.")
    }

    pub fn unavailable(detail: impl Into<String>, retry_after: u64) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .with_detail(detail)
        .with_retry_after(retry_after)
    }

    /// Logs an internal error with its cause (the request id comes from the span) and returns
    /// the bare 500 problem.
    pub fn internal_from(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %ErrorChain(cause), "internal error");
        Self::internal()
    }
}

/// Displays an error with all its sources, for logs.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status;
        let extra = self.headers.clone();
        let mut response = (status, Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
        headers.extend(extra);
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// The problem for a status produced outside our handlers (the framework or a layer).
pub fn for_status(status: StatusCode) -> Problem {
    match status {
        StatusCode::NOT_FOUND => Problem::new(status, "route-not-found", "Not found")
            .with_detail("No such route. The API is described at /openapi.json."),
        StatusCode::METHOD_NOT_ALLOWED => {
            Problem::new(status, "method-not-allowed", "Method not allowed")
                .with_detail("This route does not accept that method.")
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            Problem::new(status, "payload-too-large", "Request body too large")
                .with_detail("Request bodies are limited to 1 MiB.")
        }
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => {
            Problem::new(status, "timeout", "Request timed out")
                .with_detail("The request took too long and was abandoned.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            Problem::new(status, "unsupported-media-type", "Unsupported media type")
                .with_detail("Send JSON with `Content-Type: application/json`.")
        }
        StatusCode::SERVICE_UNAVAILABLE => Problem::unavailable(
            "The service is overloaded or the request took too long; retry shortly.",
            1,
        ),
        s if s.is_server_error() => Problem::internal(),
        s => Problem::new(
            s,
            "http-error",
            s.canonical_reason().unwrap_or("HTTP error"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_stays_a_503_with_retry_after() {
        let problem = for_status(StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(problem.status, StatusCode::SERVICE_UNAVAILABLE);
        let response = problem.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    }

    #[test]
    fn a_problem_carries_its_code_in_its_type() {
        let problem = Problem::conflict("seats-unavailable", "taken");
        assert_eq!(problem.code(), "seats-unavailable");
        let body = serde_json::to_value(&problem).unwrap();
        assert_eq!(
            body["type"],
            "https://ticketing.example/problems/seats-unavailable"
        );
        assert_eq!(body["status"], 409);
    }
}
