//! The HTTP server every service runs: standard layers, probes, metrics, graceful shutdown.
//!
//! A service builds its own `Router`, hands it to [`build`] with its [`Standard`] parts, and runs
//! the result with [`serve`] on a listener it opened (port 0 in tests) until a shutdown future
//! completes ([`shutdown_signal`] in production, a oneshot in tests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use crate::Problem;
use crate::auth::TokenVerifier;
use crate::metrics::{Metrics, UNMATCHED_ROUTE};
use crate::tasks::TaskHealth;
use crate::telemetry::with_request_id;

/// Request bodies larger than this are refused with 413.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every service hands to [`build`].
#[derive(Clone)]
pub struct Standard {
    pub service: &'static str,
    pub version: &'static str,
    /// The service's database, which `/ready` checks; `None` for a process that keeps none (the
    /// storefront: its sessions live in encrypted cookies).
    pub pool: Option<PgPool>,
    pub metrics: Metrics,
    pub verifier: Arc<TokenVerifier>,
    /// Requests running longer are abandoned with 503.
    pub request_timeout: Duration,
    /// Background tasks that are down make `/ready` answer 503.
    pub tasks: TaskHealth,
    /// Whose `X-Forwarded-For` names the client ([`crate::extract::ClientAddress`]).
    pub trusted_proxies: crate::extract::TrustedProxies,
}

/// Adds the probes, `/metrics`, the problem-shaped fallback and the standard layers to a
/// service's router.
pub fn build(routes: Router, standard: Standard) -> Router {
    build_with_fallback(routes, standard, route_not_found)
}

/// [`build`] with another answer than a `404` problem for unknown paths (the storefront's HTML
/// page), behind the same layers.
pub fn build_with_fallback<H, T>(routes: Router, standard: Standard, fallback: H) -> Router
where
    H: axum::handler::Handler<T, ()>,
    T: 'static,
{
    let probes = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(standard.clone());
    routes
        .merge(probes)
        .route_layer(middleware::from_fn(tag_route))
        .fallback(fallback)
        .layer(axum::Extension(standard.verifier))
        .layer(axum::Extension(Arc::new(standard.trusted_proxies)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            standard.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(panic_problem))
        .layer(middleware::from_fn(problem_for_bare_errors))
        .layer(middleware::from_fn_with_state(standard.metrics, observe))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuidV7))
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on SIGTERM (Kubernetes, docker stop) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing requests in flight");
}

async fn health(State(standard): State<Standard>) -> Response {
    axum::Json(json!({
        "status": "ok",
        "service": standard.service,
        "version": standard.version,
    }))
    .into_response()
}

async fn ready(State(standard): State<Standard>) -> Response {
    let down = standard.tasks.down();
    if !down.is_empty() {
        tracing::warn!(tasks = ?down, "not ready: background tasks are down");
        return Problem::unavailable(
            format!(
                "Background tasks are down and being restarted: {}.",
                down.join(", ")
            ),
            5,
        )
        .with_extension("tasksDown", json!(down))
        .into_response();
    }
    let Some(pool) = &standard.pool else {
        return axum::Json(json!({ "status": "ready" })).into_response();
    };
    let check = sqlx::query("SELECT 1").execute(pool);
    match tokio::time::timeout(Duration::from_secs(2), check).await {
        Ok(Ok(_)) => axum::Json(json!({ "status": "ready" })).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: database check failed");
            Problem::unavailable("The database does not answer.", 5).into_response()
        }
        Err(_) => {
            tracing::warn!("not ready: database check timed out");
            Problem::unavailable("The database does not answer.", 5).into_response()
        }
    }
}

async fn metrics(State(standard): State<Standard>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        standard.metrics.render(),
    )
        .into_response()
}

async fn route_not_found() -> Problem {
    crate::problem::for_status(StatusCode::NOT_FOUND)
}

fn panic_problem(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    Problem::internal().into_response()
}

/// The route template a request matched, handed from the inner route layer to the outer
/// observing layer through the response's extensions.
#[derive(Clone)]
struct MatchedRoute(Arc<str>);

async fn tag_route(matched: MatchedPath, request: Request, next: Next) -> Response {
    tracing::Span::current().record("route", matched.as_str());
    let mut response = next.run(request).await;
    response
        .extensions_mut()
        .insert(MatchedRoute(Arc::from(matched.as_str())));
    response
}

/// One span per request (request id, method, route), the request id in the task-local for
/// outgoing calls, the HTTP metrics, and one log line when the answer is ready.
async fn observe(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        route = tracing::field::Empty,
    );
    let response = with_request_id(request_id, next.run(request))
        .instrument(span.clone())
        .await;
    let route = response
        .extensions()
        .get::<MatchedRoute>()
        .map_or(UNMATCHED_ROUTE, |r| &*r.0)
        .to_owned();
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    metrics.observe_request(method_label(&method), &route, status, elapsed.as_secs_f64());
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if matches!(route.as_str(), "/health" | "/ready" | "/metrics") {
            tracing::debug!(status, latency_ms, %path, "request completed");
        } else if status >= 500 {
            tracing::error!(status, latency_ms, %path, "request failed");
        } else {
            tracing::info!(status, latency_ms, %path, "request completed");
        }
    });
    response
}

/// The standard methods by name; anything else as `OTHER`, so that invented methods cannot
/// create metric series without end.
fn method_label(method: &http::Method) -> &'static str {
    use http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Gives a problem body to error answers that layers or the framework produced in plain text
/// (405, 413, timeouts), so that every error of the fleet has one shape.
async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    // JSON is an answer already; so is an HTML page (the storefront's error pages). What is
    // left is a bare error: an empty body, or a framework's plain-text rejection.
    let is_answer = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("application/problem+json")
                || ct.starts_with("application/json")
                || ct.starts_with("text/html")
        });
    if is_answer {
        return response;
    }
    let (parts, _body) = response.into_parts();
    let mut problem = crate::problem::for_status(status).into_response();
    // Keep what the original answer said in its headers (Allow on a 405, say).
    for (name, value) in &parts.headers {
        // The new body is neither the old one's length nor its encoding (gzip).
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && name != header::CONTENT_ENCODING
        {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    problem.extensions_mut().extend(parts.extensions);
    problem
}

#[derive(Clone, Copy)]
struct MakeRequestUuidV7;

impl MakeRequestId for MakeRequestUuidV7 {
    fn make_request_id<B>(&mut self, _request: &http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
            .ok()
            .map(RequestId::new)
    }
}
