//! Logs and request identity.
//!
//! Logs are JSON lines through `tracing` (`LOG_FORMAT=pretty` for humans). Every request runs in
//! one span that carries its `request_id`, method and route template, so every line logged while
//! serving it names the request. The id is also kept in a task-local so that calls to other
//! services forward it without threading it through every function.

use std::fmt;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;

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
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _already_set = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
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
