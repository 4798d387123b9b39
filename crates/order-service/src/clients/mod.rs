//! Typed calls to the services the saga drives: catalog (the event), user (the buyer's name and
//! e-mail), seating (holds) and payment (charges, refunds). Each answers the value, or a
//! [`Remote`] that says whether the other service refused (a definite answer) or could not say
//! (the outcome is unknown and the step must be repeated).

pub mod cache;
pub mod catalog;
pub mod payment;
pub mod seating;
pub mod users;

use axum::http::StatusCode;
use serde_json::Value;
use service_kit::client::ClientError;

/// How a call went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Remote {
    /// A definite refusal (4xx), with the problem the service answered.
    #[error("refused with {status}: {problem}")]
    Refused { status: StatusCode, problem: Value },
    /// No answer, a 5xx, or an answer that means "not decided yet" (a request with the same
    /// key still in flight): the outcome is unknown.
    #[error("{0}")]
    Unknown(String),
}

impl Remote {
    /// The problem's stable code (`seats-unavailable`, ...), if it was refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { problem, .. } => {
                problem["type"].as_str().and_then(|t| t.rsplit('/').next())
            }
            Self::Unknown(_) => None,
        }
    }
}

impl From<ClientError> for Remote {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Status { status, body, .. } if status.is_client_error() => {
                let problem: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                let in_flight = problem["type"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("/idempotency-in-flight"));
                if in_flight {
                    Self::Unknown("a request with the same key is still in flight".into())
                } else {
                    Self::Refused { status, problem }
                }
            }
            other => Self::Unknown(other.to_string()),
        }
    }
}
