//! An event: its details and the seat map to choose from; ordering the chosen seats; and the
//! seat map's live stream, relayed from seating so that the page's script stays on this origin.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use futures::StreamExt;
use minijinja::context;
use serde::Deserialize;
use uuid::Uuid;

use crate::client::ApiError;
use crate::error::PageError;
use crate::gzip;
use crate::pages::{form_key, parse_id};
use crate::render;
use crate::seatmap::SeatLayout;
use crate::session::Visit;
use crate::state::AppState;

/// The contract's limit of seats per order.
pub const MAX_SEATS: usize = 10;

pub async fn show(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    render_event(&state, &visit, &headers, id, None).await
}

/// The event page, with `problem` said above the map (a refused order) when there is one.
async fn render_event(
    state: &AppState,
    visit: &Visit,
    headers: &HeaderMap,
    id: Uuid,
    problem: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let event = state.event(id, visit).await?;
    let (status_code, problem) = problem.map_or((StatusCode::OK, None), |(s, p)| (s, Some(p)));
    // No inventory yet (a draft): the page says so instead of drawing an empty map.
    let seats = match state.seat_maps.status(&state.fleet, id).await {
        Ok(status) => status,
        Err(e) if e.status() == StatusCode::NOT_FOUND => {
            let page = context! { event => &*event, problem => problem };
            return Ok(render::page("event.html", Some(visit), page).with_status(status_code));
        }
        Err(e) => return Err(e.into()),
    };
    let map = state.seat_maps.drawn(&state.fleet, id, &seats).await?;
    let page = context! {
        event => &*event,
        seats => context! {
            version => seats.version, status => seats.status, available => seats.available,
            held => seats.held, sold => seats.sold,
        },
        map => context! { prices => map.prices, prices_minor => map.prices_minor },
        layout_version => map.layout.version,
        max_seats => MAX_SEATS,
        key => form_key(),
        problem => problem,
    };
    let page = render::page_around(
        "event.html",
        Some(visit),
        page,
        map.rows.clone(),
        gzip::accepted(headers),
    );
    Ok(page.with_status(status_code))
}

#[derive(Deserialize)]
pub struct OrderForm {
    /// Positions of the chosen seats in the layout.
    #[serde(default)]
    seat: Vec<usize>,
    /// The layout version the positions refer to.
    layout: i64,
    /// The form's Idempotency-Key.
    key: String,
}

/// `POST /events/{id}/order`: the chosen seats become an order (held for the buyer), and the
/// buyer goes on to pay for it.
pub async fn order(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<OrderForm>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let token = visit.token(&format!("/events/{id}"))?;
    let refuse = |why: &str| Some((StatusCode::UNPROCESSABLE_ENTITY, why.to_owned()));
    let mut positions = form.seat.clone();
    positions.sort_unstable();
    positions.dedup();
    if positions.is_empty() {
        return render_event(
            &state,
            &visit,
            &headers,
            id,
            refuse("Choose at least one seat."),
        )
        .await;
    }
    if positions.len() > MAX_SEATS {
        let why = format!("One order holds at most {MAX_SEATS} seats.");
        return render_event(&state, &visit, &headers, id, refuse(&why)).await;
    }
    let layout = state
        .seat_maps
        .layout(&state.fleet, id, form.layout)
        .await?;
    let seats = match layout.seats_at(&positions) {
        Some(seats) if layout.version == form.layout => seats,
        _ => {
            let why = "The seat map changed while you were choosing. Please choose again.";
            return render_event(&state, &visit, &headers, id, refuse(why)).await;
        }
    };
    let ordered = state
        .fleet
        .create_order(&token, &form.key, id, &seats)
        .await;
    // Held now, or refused because someone else holds them: either way the buyer's next look at
    // the map must show it.
    state.seat_maps.changed(id);
    match ordered {
        Ok(order) => {
            let order_id = order["id"].as_str().unwrap_or_default();
            Ok(Redirect::to(&format!("/orders/{order_id}")).into_response())
        }
        Err(e @ ApiError::Problem { .. }) if e.status().is_client_error() => {
            let why = refusal(&e, &layout);
            render_event(&state, &visit, &headers, id, Some((e.status(), why))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Why the order was refused, with the seats someone else took named as the buyer sees them.
fn refusal(error: &ApiError, layout: &SeatLayout) -> String {
    let ApiError::Problem { conflicts, .. } = error else {
        return error.message();
    };
    if conflicts.is_empty() {
        return error.message();
    }
    let names: Vec<String> = conflicts
        .iter()
        .filter_map(|id| id.parse::<Uuid>().ok())
        .filter_map(|id| layout.label_of(id))
        .collect();
    format!(
        "Someone else just took {}. Please choose other seats.",
        if names.is_empty() {
            "some of these seats".to_owned()
        } else {
            names.join(", ")
        }
    )
}

/// `GET /events/{id}/seatmap/stream`: seating's Server-Sent Events, passed through as they
/// come (the browser's `Last-Event-ID` goes along, so a reconnection resumes).
pub async fn stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let last = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()));
    let upstream = state.fleet.seat_stream(id, last).await?;
    let status = upstream.status();
    let mut response = Response::builder().status(status.as_u16());
    for name in [
        header::CONTENT_TYPE,
        header::RETRY_AFTER,
        header::CACHE_CONTROL,
    ] {
        if let Some(value) = upstream.headers().get(name.as_str()) {
            response = response.header(name, value.as_bytes());
        }
    }
    // Proxies (nginx) must not buffer an event stream.
    response = response.header("x-accel-buffering", HeaderValue::from_static("no"));
    let closing = state.closing.clone().cancelled_owned();
    response
        .body(Body::from_stream(
            upstream.bytes_stream().take_until(closing),
        ))
        .map_err(|e| PageError::Internal(e.to_string()))
}
