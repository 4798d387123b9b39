//! The door: an organizer types a ticket's code or scans its QR code (a scanner types the
//! payload as keystrokes), and the page answers in large type: admitted, already used, void or
//! unknown. order-service decides; the check-in is one conditional update there, so two doors
//! scanning the same ticket admit it once.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::Form;
use base64::Engine;
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::PageError;
use crate::render;
use crate::session::Visit;
use crate::state::AppState;

pub async fn form(visit: Visit) -> Result<Response, PageError> {
    visit.organizer("/door")?;
    Ok(render::page("door.html", Some(&visit), context! {}).into_response())
}

#[derive(Deserialize)]
pub struct DoorForm {
    #[serde(default)]
    ticket: String,
}

#[derive(Serialize)]
struct Verdict {
    /// `valid`, `used`, `void`, `unknown` or `refused`.
    outcome: &'static str,
    headline: String,
    detail: String,
    ticket: Option<Value>,
}

pub async fn check(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<DoorForm>,
) -> Result<Response, PageError> {
    let (_, token) = visit.organizer("/door")?;
    let Some(code) = ticket_code(&form.ticket) else {
        let verdict = Verdict {
            outcome: "unknown",
            headline: "NOT A TICKET".into(),
            detail: "This is neither a ticket code nor one of our QR codes.".into(),
            ticket: None,
        };
        return Ok(answer(&visit, &verdict, StatusCode::UNPROCESSABLE_ENTITY));
    };
    let verdict = match state.fleet.check_in(&token, &code).await {
        Ok(ticket) => Verdict {
            outcome: "valid",
            headline: "VALID — ADMIT".into(),
            detail: seat_of(&ticket),
            ticket: Some(ticket),
        },
        Err(e) if e.status() == StatusCode::CONFLICT => {
            // Used or void: the ticket itself says which.
            let ticket = state.fleet.ticket(&token, &code).await.ok();
            let void = ticket.as_ref().is_some_and(|t| t["status"] == "VOID");
            Verdict {
                outcome: if void { "void" } else { "used" },
                headline: if void {
                    "VOID — DO NOT ADMIT".into()
                } else {
                    "ALREADY USED".into()
                },
                detail: if void {
                    "This ticket was refunded or cancelled.".into()
                } else {
                    format!(
                        "{} was already checked in.",
                        ticket.as_ref().map_or_else(String::new, seat_of)
                    )
                },
                ticket,
            }
        }
        Err(e) if e.status() == StatusCode::NOT_FOUND => Verdict {
            outcome: "unknown",
            headline: "UNKNOWN TICKET".into(),
            detail: format!("No ticket has the code {code}."),
            ticket: None,
        },
        Err(e) if e.status() == StatusCode::FORBIDDEN => Verdict {
            outcome: "refused",
            headline: "NOT YOUR EVENT".into(),
            detail: "This ticket is for an event you do not organise.".into(),
            ticket: None,
        },
        Err(e) => return Err(e.into()),
    };
    let status = if verdict.outcome == "valid" {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    Ok(answer(&visit, &verdict, status))
}

fn answer(visit: &Visit, verdict: &Verdict, status: StatusCode) -> Response {
    (
        status,
        render::page("door.html", Some(visit), context! { verdict => verdict }),
    )
        .into_response()
}

fn seat_of(ticket: &Value) -> String {
    format!(
        "{} row {}, seat {}",
        ticket["section"].as_str().unwrap_or("?"),
        ticket["row"].as_str().unwrap_or("?"),
        ticket["number"]
    )
}

/// The code typed, or the one inside a scanned QR payload (a compact JWS whose `sub` is the
/// code). The signature is not checked here: order-service knows the code or does not, and a
/// door without the network would verify it with `GET /v1/tickets/keys`.
fn ticket_code(input: &str) -> Option<String> {
    let input = input.trim();
    let code = match input.split('.').collect::<Vec<_>>().as_slice() {
        [_, claims, _] => {
            let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .ok()?;
            let claims: Value = serde_json::from_slice(&claims).ok()?;
            claims["sub"].as_str()?.to_owned()
        }
        _ => input.to_owned(),
    };
    let plausible = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_read_from_the_input_or_from_the_payload() {
        assert_eq!(ticket_code("  TK-7Q2M  ").as_deref(), Some("TK-7Q2M"));
        let claims =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"TK-7Q2M"}"#);
        assert_eq!(
            ticket_code(&format!("eyJhbGciOiJFZERTQSJ9.{claims}.c2ln")).as_deref(),
            Some("TK-7Q2M")
        );
        assert_eq!(ticket_code("a.b.c"), None);
        assert_eq!(ticket_code("<script>"), None);
        assert_eq!(ticket_code(""), None);
    }
}
