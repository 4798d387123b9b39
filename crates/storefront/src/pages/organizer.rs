//! The organizer's pages: their events, a new venue, a new event with its seat layout,
//! publishing, and cancelling (which refunds every buyer).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{EventFilters, FieldError};
use crate::error::PageError;
use crate::pages::browse::EVENT_TYPES;
use crate::pages::parse_id;
use crate::render;
use crate::session::Visit;
use crate::state::AppState;

pub async fn home(State(state): State<AppState>, visit: Visit) -> Result<Response, PageError> {
    let (account, token) = visit.organizer("/organizer")?;
    let page = state
        .fleet
        .events(&EventFilters::default(), None, 100, Some(&token))
        .await?;
    let mine: Vec<Value> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            account.role == "admin" || e["organizerId"].as_str() == Some(&account.id.to_string())
        })
        .cloned()
        .collect();
    Ok(render::page("organizer.html", Some(&visit), context! { events => mine }).into_response())
}

#[derive(Deserialize, Serialize, Default)]
pub struct VenueForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    city: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    capacity: String,
}

pub async fn venue_form(visit: Visit) -> Result<Response, PageError> {
    visit.organizer("/organizer/venues/new")?;
    Ok(render::page(
        "venue_new.html",
        Some(&visit),
        context! { form => VenueForm::default() },
    )
    .into_response())
}

pub async fn create_venue(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<VenueForm>,
) -> Result<Response, PageError> {
    let (_, token) = visit.organizer("/organizer/venues/new")?;
    let Ok(capacity) = form.capacity.trim().parse::<u32>() else {
        let errors = [FieldError {
            field: "capacity".into(),
            message: "a whole number of seats".into(),
        }];
        return Ok(refused(
            &visit,
            "venue_new.html",
            &form,
            "Please check the capacity.",
            &errors,
        ));
    };
    let venue = json!({
        "name": form.name.trim(), "city": form.city.trim(),
        "address": Some(form.address.trim()).filter(|a| !a.is_empty()), "capacity": capacity,
    });
    match state.fleet.create_venue(&token, &venue).await {
        Ok(venue) => {
            let id = venue["id"].as_str().unwrap_or_default();
            Ok(Redirect::to(&format!("/organizer/events/new?venue={id}")).into_response())
        }
        Err(e) if e.status().is_client_error() => Ok(refused(
            &visit,
            "venue_new.html",
            &form,
            &e.message(),
            e.field_errors(),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Serialize, Default)]
pub struct EventForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    venue: String,
    /// `YYYY-MM-DDTHH:MM`, in UTC (the form says so).
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    base_price: String,
    #[serde(default)]
    description: String,
    /// One section per line: `name, rows, seats per row[, price]`.
    #[serde(default)]
    layout: String,
}

#[derive(Deserialize)]
pub struct NewEventQuery {
    venue: Option<String>,
}

pub async fn event_form(
    State(state): State<AppState>,
    visit: Visit,
    query: Result<Query<NewEventQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    visit.organizer("/organizer/events/new")?;
    let form = EventForm {
        venue: query.ok().and_then(|Query(q)| q.venue).unwrap_or_default(),
        currency: "EUR".into(),
        event_type: "concert".into(),
        layout: "Stalls, 10, 20, 45.00\nBalcony, 4, 15, 30.00".into(),
        ..EventForm::default()
    };
    event_page(&state, &visit, &form, None, &[], StatusCode::OK).await
}

async fn event_page(
    state: &AppState,
    visit: &Visit,
    form: &EventForm,
    problem: Option<&str>,
    errors: &[FieldError],
    status: StatusCode,
) -> Result<Response, PageError> {
    let venues = state.fleet.venues().await?;
    let html = render::page(
        "event_new.html",
        Some(visit),
        context! {
            form => form, venues => venues["items"], types => EVENT_TYPES,
            problem => problem, errors => errors,
        },
    );
    Ok(html.with_status(status))
}

/// Creates the event (a draft) and its seats; publishing is a separate, deliberate step.
pub async fn create_event(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<EventForm>,
) -> Result<Response, PageError> {
    let (_, token) = visit.organizer("/organizer/events/new")?;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let layout = match parse_layout(&form.layout) {
        Ok(layout) => layout,
        Err(why) => {
            let errors = [FieldError {
                field: "layout".into(),
                message: why,
            }];
            return event_page(
                &state,
                &visit,
                &form,
                Some("Please check the seat layout."),
                &errors,
                unprocessable,
            )
            .await;
        }
    };
    let event = json!({
        "title": form.title.trim(), "eventType": form.event_type, "venueId": form.venue,
        "startsAt": format!("{}:00Z", form.starts_at.trim()), "currency": form.currency.trim(),
        "basePrice": form.base_price.trim(),
        "description": Some(form.description.trim()).filter(|d| !d.is_empty()),
    });
    let created = match state.fleet.create_event(&token, &event).await {
        Ok(created) => created,
        Err(e) if e.status().is_client_error() => {
            return event_page(
                &state,
                &visit,
                &form,
                Some(&e.message()),
                e.field_errors(),
                e.status(),
            )
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    let id = parse_id(created["id"].as_str().unwrap_or_default())?;
    if let Err(e) = state.fleet.put_layout(&token, id, &layout).await {
        // The draft exists without seats; the organizer's page shows it, and says so.
        tracing::info!(error = %e, event_id = %id, "the new event's seats were refused");
        return event_page(
            &state,
            &visit,
            &form,
            Some(&format!(
                "The event was created as a draft, but its seats were refused: {}",
                e.message()
            )),
            e.field_errors(),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    Ok(Redirect::to("/organizer").into_response())
}

/// `Stalls, 10, 20, 45.00` per line → the catalog's `layout` (rows named A, B, … by it).
fn parse_layout(raw: &str) -> Result<Value, String> {
    let mut sections = Vec::new();
    for (n, line) in raw
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let parts: Vec<&str> = line.split(',').map(str::trim).collect();
        let line_no = n + 1;
        let (name, rows, per_row, price) = match parts.as_slice() {
            [name, rows, per_row] => (name, rows, per_row, None),
            [name, rows, per_row, price] => (name, rows, per_row, Some(*price)),
            _ => {
                return Err(format!(
                    "line {line_no}: write `section, rows, seats per row, price`"
                ));
            }
        };
        let count = |raw: &str, what: &str| {
            raw.parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("line {line_no}: {what} must be a whole number above 0"))
        };
        if name.is_empty() {
            return Err(format!("line {line_no}: the section needs a name"));
        }
        let mut section = json!({
            "section": name, "rows": count(rows, "rows")?, "seatsPerRow": count(per_row, "seats per row")?,
        });
        if let Some(price) = price.filter(|p| !p.is_empty()) {
            section["price"] = json!(price);
        }
        sections.push(section);
    }
    if sections.is_empty() {
        return Err("give at least one section".into());
    }
    Ok(Value::Array(sections))
}

pub async fn publish(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (_, token) = visit.organizer("/organizer")?;
    let id = parse_id(&id)?;
    state.fleet.publish(&token, id).await?;
    Ok(Redirect::to("/organizer").into_response())
}

pub async fn cancel_form(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let (_, token) = visit.organizer("/organizer")?;
    let id = parse_id(&id)?;
    let event = state.fleet.event(id, Some(&token)).await?;
    let seats = state.fleet.seat_status(id).await.ok();
    let html = render::page(
        "event_cancel.html",
        Some(&visit),
        context! { event => event, sold => seats.as_ref().map(|s| s.sold), held => seats.map(|s| s.held) },
    );
    Ok(html.into_response())
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    reason: String,
}

pub async fn cancel(
    State(state): State<AppState>,
    visit: Visit,
    Path(id): Path<String>,
    Form(form): Form<CancelForm>,
) -> Result<Response, PageError> {
    let (_, token) = visit.organizer("/organizer")?;
    let id = parse_id(&id)?;
    let reason = form.reason.trim();
    if reason.is_empty() {
        return Err(PageError::BadForm(
            "Say why the event is cancelled: every buyer reads it.".into(),
        ));
    }
    state.fleet.cancel_event(&token, id, reason).await?;
    Ok(Redirect::to("/organizer").into_response())
}

/// A refused form, shown again with what was typed and why.
fn refused<T: Serialize>(
    visit: &Visit,
    template: &str,
    form: &T,
    problem: &str,
    errors: &[FieldError],
) -> Response {
    let html = render::page(
        template,
        Some(visit),
        context! { form => form, problem => problem, errors => errors },
    );
    html.with_status(StatusCode::UNPROCESSABLE_ENTITY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_is_one_section_per_line() {
        let layout = parse_layout("Stalls, 10, 20, 45.00\n\n Balcony ,4,15").unwrap();
        assert_eq!(
            layout,
            json!([
                { "section": "Stalls", "rows": 10, "seatsPerRow": 20, "price": "45.00" },
                { "section": "Balcony", "rows": 4, "seatsPerRow": 15 },
            ])
        );
        assert!(
            parse_layout("Stalls, ten, 20")
                .unwrap_err()
                .contains("line 1")
        );
        assert!(parse_layout("").is_err());
        assert!(parse_layout("Stalls, 0, 20").is_err());
    }
}
