//! The pages, one module per part of the shop, and the router that serves them.
//!
//! Handlers extract, call the fleet, and render; what they share (the session, errors, the
//! seat map) lives beside them. Every page runs inside [`session::layer`] (cookie, form token,
//! token refresh); the stream relay and the static files do not need a session.

pub mod account;
pub mod browse;
pub mod door;
pub mod event;
pub mod orders;
pub mod organizer;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::set_header::SetResponseHeaderLayer;
use uuid::Uuid;

use crate::assets;
use crate::error::PageError;
use crate::session;
use crate::state::AppState;

/// Scripts and styles from this origin only; no inline script, no frame, no form elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

pub fn router(state: AppState) -> Router {
    let pages = Router::new()
        .route("/", get(browse::list))
        .route("/events/{id}", get(event::show))
        .route("/events/{id}/order", post(event::order))
        .route("/orders/{id}", get(orders::show))
        .route("/orders/{id}/pay", post(orders::pay))
        .route("/orders/{id}/cancel", post(orders::cancel))
        .route("/tickets", get(orders::list))
        .route("/tickets/{code}/qr.svg", get(orders::qr))
        .route("/login", get(account::login_form).post(account::login))
        .route(
            "/register",
            get(account::register_form).post(account::register),
        )
        .route("/logout", post(account::logout))
        .route("/organizer", get(organizer::home))
        .route(
            "/organizer/venues/new",
            get(organizer::venue_form).post(organizer::create_venue),
        )
        .route(
            "/organizer/events/new",
            get(organizer::event_form).post(organizer::create_event),
        )
        .route("/organizer/events/{id}/publish", post(organizer::publish))
        .route(
            "/organizer/events/{id}/cancel",
            get(organizer::cancel_form).post(organizer::cancel),
        )
        .route("/door", get(door::form).post(door::check))
        .route_layer(from_fn_with_state(state.clone(), session::layer))
        // Pages carry the visitor's name and orders: never kept by a shared cache.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    let open = Router::new()
        .route("/events/{id}/seatmap/stream", get(event::stream))
        .route("/static/{file}", get(assets::file));
    pages
        .merge(open)
        // gzip for the pages (a 2 000-seat map is repetitive HTML); the default predicate leaves
        // the event stream alone, which must not be buffered. The fastest level: on the event
        // page of 2 000 seats the default one cost more CPU than everything else the page does,
        // for about 1 KB less of 19 (docs/performance.md).
        .layer(CompressionLayer::new().quality(CompressionLevel::Fastest))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-frame-options"),
            HeaderValue::from_static("DENY"),
        ))
        .with_state(state)
}

/// Unknown addresses get a page, not JSON.
pub async fn not_found() -> PageError {
    PageError::NotFound
}

/// Where to go after logging in: a path of this site only (no `//evil.example`).
pub fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

/// An id from the address; anything else is a page that does not exist.
pub fn parse_id(raw: &str) -> Result<Uuid, PageError> {
    Uuid::parse_str(raw).map_err(|_| PageError::NotFound)
}

/// A fresh `Idempotency-Key` for a form: sending the same form twice (a double click, a
/// reload) repeats the first answer instead of ordering or paying twice.
pub fn form_key() -> String {
    Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/events/1"), "/events/1");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
        assert_eq!(safe_next("/\\evil.example"), "/");
    }
}
