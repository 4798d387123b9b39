//! Checkout and "My tickets": an order's page (pay while the hold lasts, or its tickets), the
//! payment, a cancellation, the list of the buyer's orders, and each ticket's QR code.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use futures::future::join_all;
use minijinja::context;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::client::ApiError;
use crate::error::PageError;
use crate::pages::{form_key, parse_id};
use crate::render;
use crate::session::Visit;
use crate::state::AppState;

/// The simulated gateway's test cards (payment-service), as the checkout offers them.
pub const TEST_CARDS: [(&str, &str); 5] = [
    ("tok_visa", "Visa •••• 4242 (test card: succeeds)"),
    (
        "tok_mastercard",
        "Mastercard •••• 4444 (test card: succeeds)",
    ),
    ("tok_chargeDeclined", "Visa •••• 0002 (test card: declined)"),
    (
        "tok_insufficientFunds",
        "Visa •••• 9995 (test card: insufficient funds)",
    ),
    (
        "tok_gatewayError",
        "Visa •••• 0119 (test card: the bank does not answer)",
    ),
];

pub async fn show(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    render_order(&state, &visit, id, None).await
}

async fn render_order(
    state: &AppState,
    visit: &Visit,
    id: Uuid,
    problem: Option<(StatusCode, String)>,
) -> Result<Response, PageError> {
    let token = visit.token(&format!("/orders/{id}"))?;
    let order = state.fleet.order(&token, id).await?;
    let event = event_of(state, &order).await;
    let (status, problem) = problem.map_or((StatusCode::OK, None), |(s, p)| (s, Some(p)));
    let html = render::page(
        "order.html",
        Some(visit),
        context! {
            order => order,
            event => event,
            cards => TEST_CARDS,
            key => form_key(),
            problem => problem,
        },
    );
    Ok(html.with_status(status))
}

/// The order's event for its title and date; the order page still shows without it.
async fn event_of(state: &AppState, order: &Value) -> Option<Value> {
    let id = order["eventId"].as_str()?.parse().ok()?;
    state.fleet.event(id, None).await.ok()
}

#[derive(Deserialize)]
pub struct PayForm {
    card: String,
    key: String,
}

/// `POST /orders/{id}/pay`: a decline is said on the order's page, with what became of the
/// seats; success shows the tickets.
pub async fn pay(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    Form(form): Form<PayForm>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let token = visit.token(&format!("/orders/{id}"))?;
    if !TEST_CARDS.iter().any(|(card, _)| *card == form.card) {
        return Err(PageError::BadForm(
            "Choose one of the cards offered.".into(),
        ));
    }
    match state.fleet.pay(&token, &form.key, id, &form.card).await {
        Ok(_) => Ok(Redirect::to(&format!("/orders/{id}")).into_response()),
        Err(e) if e.status() == StatusCode::PAYMENT_REQUIRED => {
            let why = format!(
                "Payment declined: {} Your seats were released; choose them again to pay with another card.",
                e.message()
            );
            render_order(&state, &visit, id, Some((e.status(), why))).await
        }
        Err(e) if e.status().is_client_error() || e.status() == StatusCode::BAD_GATEWAY => {
            let status = e.status();
            let why = match &e {
                ApiError::Problem { .. } if status == StatusCode::BAD_GATEWAY => {
                    "The card's bank did not answer; you were not charged. Please try again.".into()
                }
                _ => e.message(),
            };
            render_order(&state, &visit, id, Some((status, why))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /orders/{id}/cancel`: a pending order lets its seats go; a confirmed one is refunded.
pub async fn cancel(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse_id(&id)?;
    let token = visit.token("/tickets")?;
    match state.fleet.cancel_order(&token, id).await {
        Ok(_) => Ok(Redirect::to(&format!("/orders/{id}")).into_response()),
        Err(e) if e.status() == StatusCode::CONFLICT => {
            render_order(&state, &visit, id, Some((e.status(), e.message()))).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
pub struct ListQuery {
    page: Option<u32>,
}

/// `GET /tickets`: the buyer's orders, newest first, each confirmed one with its tickets.
pub async fn list(
    State(state): State<AppState>,
    visit: Visit,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let token = visit.token("/tickets")?;
    let page = query.ok().and_then(|Query(q)| q.page).unwrap_or(1).max(1);
    let orders = state.fleet.orders(&token, page).await?;
    let items = orders["items"].as_array().cloned().unwrap_or_default();
    let mut ids: Vec<Uuid> = items
        .iter()
        .filter_map(|o| o["eventId"].as_str()?.parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let events: HashMap<String, Value> = join_all(ids.into_iter().map(|id| {
        let fleet = state.fleet.clone();
        async move { (id.to_string(), fleet.event(id, None).await.ok()) }
    }))
    .await
    .into_iter()
    .filter_map(|(id, event)| Some((id, event?)))
    .collect();
    let html = render::page(
        "tickets.html",
        Some(&visit),
        context! {
            orders => items,
            events => events,
            page => page,
            total => orders["total"].as_u64().unwrap_or(0),
        },
    );
    Ok(html.into_response())
}

/// `GET /tickets/{code}/qr.svg`: the ticket's QR code, fetched with the buyer's token.
pub async fn qr(
    State(state): State<AppState>,
    visit: Visit,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let token = visit.token("/tickets")?;
    let svg = state.fleet.ticket_qr(&token, &code).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        svg,
    )
        .into_response())
}
