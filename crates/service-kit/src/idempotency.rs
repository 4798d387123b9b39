//! `Idempotency-Key` storage with the contract's semantics.
//!
//! The key is scoped to the caller (the token's `sub`). The first request with a key claims it
//! and runs; its answer is stored unless it is a server error (5xx: the failure is ours or a
//! dependency's, so a retry must be allowed to run again) or says when to come back
//! (`Retry-After`: rate limited, or the resource busy for a moment). A later request with the same key:
//! - and the same request: the stored answer is replayed with `Idempotent-Replayed: true`;
//! - and a different request: 422;
//! - while the first is still running: 409.
//!
//! A claim whose request died (the process crashed, the client hung up and the handler was
//! dropped) is taken over once it is older than the in-flight timeout.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::Problem;

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// Stored answers larger than this are not kept (none of ours come close).
const MAX_STORED_BODY: usize = 1024 * 1024;

/// A valid `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(raw: &str) -> Result<Self, Problem> {
        let valid = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Problem::bad_request(
                "Idempotency-Key must be 1 to 255 visible ASCII characters.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn from_header(parts: &Parts) -> Option<Result<IdempotencyKey, Problem>> {
    let value = parts.headers.get(HEADER)?;
    Some(
        value
            .to_str()
            .map_err(|_| Problem::bad_request("Idempotency-Key must be visible ASCII."))
            .and_then(IdempotencyKey::parse),
    )
}

/// Required: 400 when the header is missing or malformed.
impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        from_header(parts).unwrap_or_else(|| {
            Err(Problem::bad_request(
                "This request needs an `Idempotency-Key` header.",
            ))
        })
    }
}

/// Optional: absent is fine, malformed is still 400.
impl<S: Send + Sync> OptionalFromRequestParts<S> for IdempotencyKey {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        from_header(parts).transpose()
    }
}

/// What identifies "the same request": a digest of the operation and its parsed body, so that
/// whitespace or key order in the JSON does not make two equal requests differ.
pub fn fingerprint(operation: &str, body: &impl Serialize) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(operation.as_bytes());
    hasher.update([0]);
    // serde_json writes struct fields in declaration order: stable for one type.
    hasher.update(serde_json::to_vec(body).unwrap_or_default());
    hasher.finalize().to_vec()
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("a request with this Idempotency-Key is still in flight")]
    InFlight,
    #[error("this Idempotency-Key was used with a different request")]
    Mismatch,
    #[error("idempotency storage failed: {0}")]
    Db(#[from] sqlx::Error),
}

impl From<IdempotencyError> for Problem {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::InFlight => Problem::conflict(
                "idempotency-in-flight",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
            )
            .with_retry_after(1),
            IdempotencyError::Mismatch => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
            )
            .with_detail("This Idempotency-Key was already used with a different request."),
            IdempotencyError::Db(e) => Problem::internal_from(&e),
        }
    }
}

/// An answer stored under a key, replayed as it was.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub status: StatusCode,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

impl IntoResponse for StoredResponse {
    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if let Some(ct) = self
            .content_type
            .and_then(|ct| HeaderValue::from_str(&ct).ok())
        {
            headers.insert(header::CONTENT_TYPE, ct);
        }
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
        response
    }
}

/// What [`IdempotencyStore::begin`] decided.
#[derive(Debug)]
pub enum Begin {
    /// The key is ours: run the request, then [`IdempotencyStore::complete`] or
    /// [`IdempotencyStore::release`].
    Proceed,
    /// The request already ran: answer this.
    Replay(StoredResponse),
}

#[derive(sqlx::FromRow)]
struct KeyRow {
    request_fingerprint: Vec<u8>,
    response_status: Option<i16>,
    response_body: Option<Vec<u8>>,
    response_content_type: Option<String>,
    stale: bool,
}

#[derive(Debug, Clone)]
pub struct IdempotencyStore {
    pool: PgPool,
    in_flight_timeout: Duration,
}

impl IdempotencyStore {
    /// `in_flight_timeout` should exceed the longest a request can run (the server's request
    /// timeout), or a slow request's key could be taken over while it still runs.
    pub fn new(pool: PgPool, in_flight_timeout: Duration) -> Self {
        Self {
            pool,
            in_flight_timeout,
        }
    }

    /// Claims `key` for `caller`, or says why not.
    pub async fn begin(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        fingerprint: &[u8],
    ) -> Result<Begin, IdempotencyError> {
        // Two rounds at most: a row purged between our insert and our read is simply gone.
        for _ in 0..2 {
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (caller, key, request_fingerprint)
                 VALUES ($1, $2, $3)
                 ON CONFLICT (caller, key) DO NOTHING",
            )
            .bind(caller)
            .bind(key.as_str())
            .bind(fingerprint)
            .execute(&self.pool)
            .await?;
            if inserted.rows_affected() == 1 {
                return Ok(Begin::Proceed);
            }
            let row: Option<KeyRow> = sqlx::query_as(
                "SELECT request_fingerprint, response_status, response_body,
                            response_content_type, locked_at < now() - $3 AS stale
                     FROM idempotency_keys WHERE caller = $1 AND key = $2",
            )
            .bind(caller)
            .bind(key.as_str())
            .bind(self.in_flight_timeout)
            .fetch_optional(&self.pool)
            .await?;
            let Some(KeyRow {
                request_fingerprint,
                response_status: status,
                response_body: body,
                response_content_type: content_type,
                stale,
            }) = row
            else {
                continue;
            };
            if request_fingerprint != fingerprint {
                return Err(IdempotencyError::Mismatch);
            }
            if let Some(status) = status {
                // Only `complete` writes it, from a real status: anything else is a corrupt row,
                // replayed as nothing else.
                let status = u16::try_from(status)
                    .ok()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .ok_or_else(|| sqlx::Error::ColumnDecode {
                        index: "response_status".into(),
                        source: format!("stored response status {status} is not an HTTP status")
                            .into(),
                    })?;
                return Ok(Begin::Replay(StoredResponse {
                    status,
                    body: body.unwrap_or_default(),
                    content_type,
                }));
            }
            if stale && self.take_over(caller, key).await? {
                tracing::warn!(
                    key = key.as_str(),
                    "took over an abandoned idempotency claim"
                );
                return Ok(Begin::Proceed);
            }
            return Err(IdempotencyError::InFlight);
        }
        Err(IdempotencyError::InFlight)
    }

    async fn take_over(&self, caller: &str, key: &IdempotencyKey) -> Result<bool, sqlx::Error> {
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET locked_at = now()
             WHERE caller = $1 AND key = $2 AND completed_at IS NULL AND locked_at < now() - $3",
        )
        .bind(caller)
        .bind(key.as_str())
        .bind(self.in_flight_timeout)
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Stores the answer of a claimed key.
    pub async fn complete(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE idempotency_keys
             SET response_status = $3, response_body = $4, response_content_type = $5,
                 completed_at = now()
             WHERE caller = $1 AND key = $2",
        )
        .bind(caller)
        .bind(key.as_str())
        .bind(i16::try_from(response.status.as_u16()).unwrap_or(500))
        .bind(&response.body)
        .bind(&response.content_type)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives up a claim without an answer, so that a retry runs the request again.
    pub async fn release(&self, caller: &str, key: &IdempotencyKey) -> Result<(), sqlx::Error> {
        sqlx::query(
            "DELETE FROM idempotency_keys
             WHERE caller = $1 AND key = $2 AND completed_at IS NULL",
        )
        .bind(caller)
        .bind(key.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Runs `handler` at most once per (caller, key, request): the whole protocol in one call.
    /// Answers below 500 are stored and replayed; a 5xx, or an answer with `Retry-After`,
    /// releases the key for a retry.
    pub async fn run<F>(
        &self,
        caller: &str,
        key: &IdempotencyKey,
        fingerprint: &[u8],
        handler: F,
    ) -> Result<Response, IdempotencyError>
    where
        F: Future<Output = Response>,
    {
        match self.begin(caller, key, fingerprint).await? {
            Begin::Replay(stored) => return Ok(stored.into_response()),
            Begin::Proceed => {}
        }
        let response = handler.await;
        let status = response.status();
        // A 5xx, or any answer that says when to come back (429, 409 "busy"), is not the
        // request's outcome: storing it would replay "retry later" to every retry.
        if status.is_server_error() || response.headers().contains_key(header::RETRY_AFTER) {
            self.release(caller, key).await?;
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_STORED_BODY).await else {
            self.release(caller, key).await?;
            return Ok(Problem::internal().into_response());
        };
        let stored = StoredResponse {
            status,
            body: bytes.to_vec(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        self.complete(caller, key, &stored).await?;
        Ok(Response::from_parts(parts, Body::from(bytes)))
    }

    /// The whole protocol for a handler: `work`'s value answered as JSON with `status`, its error
    /// as its own response, at most once per (caller, key, request) when a key is given; without
    /// a key, `work` simply runs.
    pub async fn respond<T, E>(
        &self,
        caller: &str,
        key: Option<&IdempotencyKey>,
        fingerprint: &[u8],
        status: StatusCode,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<Response, IdempotencyError>
    where
        T: Serialize,
        E: IntoResponse,
    {
        let work = async {
            match work.await {
                Ok(value) => (status, axum::Json(value)).into_response(),
                Err(e) => e.into_response(),
            }
        };
        match key {
            None => Ok(work.await),
            Some(key) => self.run(caller, key, fingerprint, work).await,
        }
    }

    /// Deletes keys older than `age` (the contract keeps them at least 24 h).
    pub async fn purge_older_than(&self, age: Duration) -> Result<u64, sqlx::Error> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < now() - $1")
            .bind(age)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_one_to_255_visible_ascii_characters() {
        assert!(IdempotencyKey::parse("order-42_retry.1").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse("has space").is_err());
        assert!(IdempotencyKey::parse("clé").is_err());
    }

    #[test]
    fn fingerprints_differ_by_operation_and_body() {
        let a = fingerprint("charge", &serde_json::json!({"amount": "1.00"}));
        assert_eq!(
            a,
            fingerprint("charge", &serde_json::json!({"amount": "1.00"}))
        );
        assert_ne!(
            a,
            fingerprint("charge", &serde_json::json!({"amount": "2.00"}))
        );
        assert_ne!(
            a,
            fingerprint("refund", &serde_json::json!({"amount": "1.00"}))
        );
    }
}
