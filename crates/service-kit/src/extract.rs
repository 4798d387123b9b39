//! Drop-in replacements for axum's `Json`, `Path` and `Query` whose rejections are problems.
//!
//! axum answers a malformed body or a bad path segment in plain text; clients of this fleet get
//! an RFC 9457 problem instead: 400 for malformed JSON or bad path/query values, 415 for a missing
//! JSON content type, 413 for an oversized body, 422 for JSON of the wrong shape.
//!
//! They also refuse the NUL character (`\u0000` in JSON, `%00` in a path or query): Postgres
//! cannot store it in text, so it would otherwise surface as a 500 deep in a query.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Problem;

/// A JSON body (request) or JSON answer (response).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_body = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let ct = ct.split(';').next().unwrap_or_default().trim();
                ct == "application/json"
                    || (ct.starts_with("application/") && ct.ends_with("+json"))
            });
        if !json_body {
            return Err(crate::problem::for_status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ));
        }
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(bytes) => bytes,
            Err(rejection) => {
                return Err(if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    crate::problem::for_status(StatusCode::PAYLOAD_TOO_LARGE)
                } else {
                    Problem::new(
                        rejection.status(),
                        "unreadable-body",
                        "Request body could not be read",
                    )
                    .with_detail(rejection.body_text())
                });
            }
        };
        if contains_nul_escape(&bytes) {
            return Err(nul_problem());
        }
        // Every request body of the API is an object; serde would also read a struct from an
        // array of its fields in order (`[null, null]`), which no client means.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Request body has the wrong shape",
            )
            .with_detail("The body must be a JSON object."));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Whether the JSON text escapes a NUL character (raw NUL bytes are not valid JSON anyway).
/// Escapes are read in order, so `\\u0000` (an escaped backslash, then the text `u0000`) is
/// text like any other.
fn contains_nul_escape(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            if bytes.get(i + 1..i + 6) == Some(b"u0000") {
                return true;
            }
            // Skip the escaped character, whatever it is (a `\uXXXX` has no backslash in it).
            i += 2;
        } else {
            i += 1;
        }
    }
    false
}

fn nul_problem() -> Problem {
    Problem::validation(vec![crate::problem::FieldError::new(
        "",
        "text must not contain the NUL character",
    )])
}

/// `%00` in a path or query.
fn has_encoded_nul(raw: &str) -> bool {
    raw.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonDataError(_) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-body",
            "Request body has the wrong shape",
        )
        .with_detail(rejection.body_text()),
        JsonRejection::JsonSyntaxError(_) => {
            Problem::new(StatusCode::BAD_REQUEST, "malformed-json", "Malformed JSON")
                .with_detail(rejection.body_text())
        }
        JsonRejection::MissingJsonContentType(_) => {
            crate::problem::for_status(StatusCode::UNSUPPORTED_MEDIA_TYPE)
        }
        other => {
            let status = other.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                crate::problem::for_status(status)
            } else {
                Problem::new(status, "unreadable-body", "Request body could not be read")
                    .with_detail(other.body_text())
            }
        }
    }
}

/// Path parameters; a value that does not parse (a malformed id, say) is a 400 problem.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if has_encoded_nul(parts.uri.path()) {
            return Err(Problem::bad_request(
                "Path segments must not contain NUL (%00).",
            ));
        }
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_problem(&rejection)),
        }
    }
}

fn path_problem(rejection: &PathRejection) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-path",
        "Invalid path parameter",
    )
    .with_detail(rejection.body_text())
}

/// Query parameters; a value that does not parse is a 400 problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if parts.uri.query().is_some_and(has_encoded_nul) {
            return Err(Problem::bad_request(
                "Query values must not contain NUL (%00).",
            ));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_problem(&rejection)),
        }
    }
}

fn query_problem(rejection: &QueryRejection) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-query",
        "Invalid query parameter",
    )
    .with_detail(rejection.body_text())
}

/// The client's address as the socket saw it (the app is served with connect info).
/// Behind a proxy this is the proxy: throttles use [`ClientAddress`].
pub use axum::extract::ConnectInfo;

/// The proxies (load balancers, ingress controllers) whose `X-Forwarded-For` is believed:
/// `TRUSTED_PROXIES`, addresses or networks separated by commas (`10.0.0.0/8,192.168.1.7`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy; then, walking
    /// `X-Forwarded-For` from the right (each proxy appends the address it saw), the first
    /// address that is not a trusted proxy. The left part of the header is written by the
    /// client and never believed.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = peer;
        let hops = forwarded_for
            .iter()
            .rev()
            .flat_map(|value| value.rsplit(','))
            .map(str::trim);
        for hop in hops {
            if !self.trusts(client) {
                break;
            }
            match hop.parse::<IpAddr>() {
                Ok(address) => client = address,
                // A hop we cannot read ends the walk at the last proxy.
                Err(_) => break,
            }
        }
        client
    }
}

impl std::str::FromStr for TrustedProxies {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<ipnet::IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("`{part}` is neither an address nor a network"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

/// The address of the client that made the request: the socket's peer, or, when the peer is one
/// of `TRUSTED_PROXIES`, the client it forwarded for. What the throttles count by.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>().copied()
        else {
            tracing::error!("no ConnectInfo: the app was not served with connect info");
            return Err(Problem::internal());
        };
        let trusted = parts
            .extensions
            .get::<Arc<TrustedProxies>>()
            .cloned()
            .unwrap_or_default();
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        Ok(Self(trusted.client(peer.ip(), &forwarded)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trusted_proxy_is_believed_about_the_client() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let none = TrustedProxies::default();
        // Without trusted proxies the header is the client's own words: ignored.
        assert_eq!(
            none.client(ip("203.0.113.9"), &["1.2.3.4"]),
            ip("203.0.113.9")
        );

        let ingress: TrustedProxies = "10.0.0.0/8, 192.168.1.7".parse().unwrap();
        assert_eq!(
            ingress.client(ip("10.1.2.3"), &["198.51.100.4"]),
            ip("198.51.100.4")
        );
        // A client cannot pose as another by writing the header itself: the proxy appends
        // what it saw, and only that is read.
        assert_eq!(
            ingress.client(ip("10.1.2.3"), &["6.6.6.6, 198.51.100.4"]),
            ip("198.51.100.4")
        );
        // Through two trusted proxies.
        assert_eq!(
            ingress.client(ip("192.168.1.7"), &["198.51.100.4", "10.9.9.9"]),
            ip("198.51.100.4")
        );
        // An untrusted peer is the client, whatever it forwards.
        assert_eq!(
            ingress.client(ip("203.0.113.9"), &["1.2.3.4"]),
            ip("203.0.113.9")
        );
        // Garbage stops the walk at the last proxy.
        assert_eq!(
            ingress.client(ip("10.1.2.3"), &["nonsense"]),
            ip("10.1.2.3")
        );
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
    }

    #[tokio::test]
    async fn a_body_that_is_not_an_object_is_refused() {
        #[derive(Debug, serde::Deserialize)]
        struct Patch {
            #[allow(dead_code)]
            name: Option<String>,
        }
        let request = |body: &'static str| {
            Request::builder()
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body))
                .unwrap()
        };
        // serde alone reads `[null]` as a `Patch` with no name.
        let refused = Json::<Patch>::from_request(request(" [null]"), &())
            .await
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(refused.code(), "invalid-body");
        assert!(
            Json::<Patch>::from_request(request(r#"{"name":null}"#), &())
                .await
                .is_ok()
        );
    }

    #[test]
    fn nul_escapes_and_encodings_are_found() {
        assert!(contains_nul_escape(br#"{"email":"a\u0000@x.io"}"#));
        assert!(!contains_nul_escape(br#"{"email":"a\u0041@x.io"}"#));
        // An escaped backslash followed by the text u0000 is no NUL...
        assert!(!contains_nul_escape(br#"{"note":"C:\\u0000"}"#));
        // ...but after an escaped backslash, an escaped NUL still is.
        assert!(contains_nul_escape(br#"{"note":"\\\u0000"}"#));
        assert!(has_encoded_nul("city=%00"));
        assert!(!has_encoded_nul("city=%20Lisbon"));
    }
}
