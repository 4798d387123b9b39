//! Browse: the events on sale, searched by city, type, title and dates (the catalog's filters),
//! each with its venue, date, price range and the seats left (from seating's compact map).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use futures::future::join_all;
use minijinja::context;
use serde::Serialize;
use serde_json::Value;

use crate::client::EventFilters;
use crate::error::PageError;
use crate::render;
use crate::session::Visit;
use crate::state::AppState;

const PAGE_SIZE: u32 = 12;
pub const EVENT_TYPES: [&str; 8] = [
    "concert",
    "theatre",
    "comedy",
    "conference",
    "workshop",
    "sport",
    "festival",
    "other",
];

#[derive(Serialize)]
struct Card {
    event: Value,
    available: Option<u32>,
    price_from: Option<String>,
    price_to: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    visit: Visit,
    query: Result<Query<EventFilters>, QueryRejection>,
) -> Result<render::Page, PageError> {
    // A hand-edited address with a bad page number still shows the first page.
    let filters = query.map(|Query(f)| f).unwrap_or_default();
    let page = state
        .fleet
        .events(&filters, Some("ON_SALE"), PAGE_SIZE, None)
        .await;
    let (events, total, problem) = match page {
        Ok(page) => (
            page["items"].as_array().cloned().unwrap_or_default(),
            page["total"].as_u64().unwrap_or(0),
            None,
        ),
        // A filter the catalog refuses (a date range backwards) is said, not a dead end.
        Err(e) if e.status().is_client_error() => (Vec::new(), 0, Some(e.message())),
        Err(e) => return Err(e.into()),
    };
    let cards = join_all(events.into_iter().map(|event| card(&state, event))).await;
    let current = filters.page.unwrap_or(1).max(1);
    let pages = total.div_ceil(u64::from(PAGE_SIZE)).max(1);
    // The same search, another page.
    let link = |page: u32| {
        let filters = EventFilters {
            page: Some(page),
            ..filters.clone()
        };
        format!(
            "/?{}",
            serde_urlencoded::to_string(&filters).unwrap_or_default()
        )
    };
    let prev = (current > 1).then(|| link(current - 1));
    let next = (u64::from(current) < pages).then(|| link(current + 1));
    Ok(render::page(
        "browse.html",
        Some(&visit),
        context! {
            cards => cards,
            filters => filters,
            types => EVENT_TYPES,
            total => total,
            page => current,
            pages => pages,
            prev => prev,
            next => next,
            problem => problem,
        },
    ))
}

/// One event's card; what seating cannot tell right now is left out rather than failing the
/// whole list.
async fn card(state: &AppState, event: Value) -> Card {
    let mut card = Card {
        available: None,
        price_from: None,
        price_to: None,
        event,
    };
    let Some(id) = card.event["id"].as_str().and_then(|id| id.parse().ok()) else {
        return card;
    };
    let Ok(status) = state.seat_maps.status(&state.fleet, id).await else {
        return card;
    };
    card.available = Some(status.available);
    if let Ok(layout) = state
        .seat_maps
        .layout(&state.fleet, id, status.layout_version)
        .await
        && let Some((from, to)) = layout.price_range()
    {
        card.price_from = Some(from.to_string());
        card.price_to = Some(to.to_string());
    }
    card
}
