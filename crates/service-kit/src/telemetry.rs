//! Logs and request identity.
//!
//! Logs are JSON lines through `tracing` (`LOG_FORMAT=pretty` for humans). Every request runs in
//! one span that carries its `request_id`, method and route template, so every line logged while
//! serving it names the request. The id is also kept in a task-local so that calls to other
//! services forward it without threading it through every function.

use std::fmt;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The header that carries the request id across the fleet.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => Err(format!("expected `json` or `pretty`, got `{other}`")),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "json",
            Self::Pretty => "pretty",
        })
    }
}

/// Installs the global subscriber. `RUST_LOG` filters (default `info`). Safe to call twice:
/// the second call is ignored, which is what tests starting several apps need.
///
/// JSON lines carry the fields of every enclosing span at the top level, so each line of a
/// request has its `request_id`, `method` and `route` as plain fields (`json-subscriber` does
/// that flattening; tracing-subscriber's own JSON format nests span fields).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _already_set = match format {
        LogFormat::Json => registry
            .with(
                json_subscriber::layer()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .flatten_span_list_on_top_level(true),
            )
            .try_init(),
        LogFormat::Pretty => registry
            .with(tracing_subscriber::fmt::layer().pretty())
            .try_init(),
    };
}

tokio::task_local! {
    static REQUEST_ID: String;
}

/// Runs `fut` with `id` as the current request id (see [`current_request_id`]).
pub async fn with_request_id<F: Future>(id: String, fut: F) -> F::Output {
    REQUEST_ID.scope(id, fut).await
}

/// The id of the request being served by this task, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs blocking work (password hashing, say) on the blocking pool, inside the caller's span so
/// its logs keep the request id.
pub async fn spawn_blocking_in_span<F, R>(f: F) -> Result<R, tokio::task::JoinError>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await
}
