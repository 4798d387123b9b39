//! Drop-in replacements for axum's `Json`, `Path` and `Query` whose rejections are problems.
//!
//! axum answers a malformed body or a bad path segment in plain text; clients of this fleet get
//! an RFC 9457 problem instead: 400 for malformed JSON or bad path/query values, 415 for a missing
//! JSON content type, 413 for an oversized body, 422 for JSON of the wrong shape.

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
        match axum::Json::<T>::from_request(req, state).await {
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
/// Behind a proxy this is the proxy; see the README's note on throttling.
pub use axum::extract::ConnectInfo;
