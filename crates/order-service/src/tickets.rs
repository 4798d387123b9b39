//! Tickets: their signed payloads for offline scanners, their QR codes, reads and the door's
//! check-in.
//!
//! A ticket's `qrPayload` is a compact JWS (EdDSA, Ed25519) over its code, event, seat and
//! validity, signed with `TICKET_SIGNING_KEY` (or a key generated once and kept in the
//! database). `GET /v1/tickets/keys` publishes the public key as a JWK set, so a scanner that
//! downloaded it once verifies a QR code without the network; check-in then marks the code used.

use chrono::{DateTime, Duration, Utc};
use qrcode::QrCode;
use qrcode::render::svg;
use serde::{Deserialize, Serialize};
use service_kit::auth::{Caller, Role};
use service_kit::signing::SigningKey;
use uuid::Uuid;

use crate::api::TicketView;
use crate::db::tickets::{self, TicketAccess};
use crate::domain::{TicketCode, TicketStatus};
use crate::error::{ApiResult, OrderError};
use crate::state::AppState;

/// The `iss` of every ticket payload.
pub const ISSUER: &str = "ticketing-order-service";
/// A ticket scans until a day after the event starts.
const VALID_AFTER_START: Duration = Duration::hours(24);

/// The claims of a ticket payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketClaims {
    pub iss: String,
    /// The ticket's code.
    pub sub: String,
    pub event_id: Uuid,
    pub seat_id: Uuid,
    pub section: String,
    pub row: String,
    pub number: i32,
    pub iat: i64,
    /// Not valid after (seconds since the epoch).
    pub exp: i64,
}

/// Signs ticket payloads.
pub struct TicketSigner {
    key: SigningKey,
}

impl TicketSigner {
    pub fn new(key: SigningKey) -> Self {
        Self { key }
    }

    /// The payload of a ticket for a seat of an event starting at `starts_at`.
    pub fn payload(
        &self,
        code: &TicketCode,
        event_id: Uuid,
        seat: &crate::db::orders::ItemRow,
        starts_at: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        let now = Utc::now();
        self.key.sign(&TicketClaims {
            iss: ISSUER.to_owned(),
            sub: code.as_str().to_owned(),
            event_id,
            seat_id: seat.seat_id,
            section: seat.section.clone(),
            row: seat.row.clone(),
            number: seat.number,
            iat: now.timestamp(),
            exp: (starts_at + VALID_AFTER_START).max(now).timestamp(),
        })
    }

    /// `{"keys": [jwk]}` for scanners.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": [self.key.jwk()] })
    }
}

/// Whether the caller may see a ticket: its buyer, the organizer of its event, an admin.
fn may_see(caller: &Caller, ticket: &TicketAccess) -> bool {
    caller.is_admin()
        || caller.user_id() == Some(ticket.buyer_id)
        || is_organizer_of(caller, ticket)
}

fn is_organizer_of(caller: &Caller, ticket: &TicketAccess) -> bool {
    caller.role == Role::Organizer && caller.user_id() == Some(ticket.organizer_id)
}

async fn find(state: &AppState, code: &str) -> ApiResult<TicketAccess> {
    let Some(code) = TicketCode::parse(code) else {
        return Err(OrderError::TicketNotFound.into());
    };
    Ok(tickets::find(&state.pool, code.as_str())
        .await?
        .ok_or(OrderError::TicketNotFound)?)
}

pub async fn get(state: &AppState, caller: &Caller, code: &str) -> ApiResult<TicketView> {
    let ticket = find(state, code).await?;
    if !may_see(caller, &ticket) {
        return Err(OrderError::TicketNotFound.into());
    }
    Ok(ticket.ticket.into())
}

/// The ticket's payload as an SVG QR code, for its buyer (and admins).
pub async fn qr_svg(state: &AppState, caller: &Caller, code: &str) -> ApiResult<String> {
    let ticket = find(state, code).await?;
    if !(caller.is_admin() || caller.user_id() == Some(ticket.buyer_id)) {
        return Err(OrderError::TicketNotFound.into());
    }
    Ok(render_svg(&ticket.ticket.qr_payload)?)
}

/// An SVG QR code of `payload` (error correction M: a scuffed phone screen still scans).
pub fn render_svg(payload: &str) -> anyhow::Result<String> {
    let code = QrCode::with_error_correction_level(payload.as_bytes(), qrcode::EcLevel::M)?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

/// The door: the organizer of the ticket's event or an admin marks it used, once. 409 when it
/// was used or voided before.
#[tracing::instrument(skip_all)]
pub async fn check_in(state: &AppState, caller: &Caller, code: &str) -> ApiResult<TicketView> {
    let ticket = find(state, code).await?;
    if !may_see(caller, &ticket) {
        return Err(OrderError::TicketNotFound.into());
    }
    if !(caller.is_admin() || is_organizer_of(caller, &ticket)) {
        return Err(service_kit::Problem::forbidden()
            .with_detail("Only the event's organizer or an admin checks tickets in.")
            .into());
    }
    if let Some(used) = tickets::check_in(&state.pool, code).await? {
        tracing::info!(order_id = %used.order_id, "ticket checked in");
        return Ok(used.into());
    }
    let now = tickets::find(&state.pool, code)
        .await?
        .ok_or(OrderError::TicketNotFound)?;
    Err(OrderError::TicketNotValid(match now.ticket.status {
        TicketStatus::Void => "VOID",
        TicketStatus::Used | TicketStatus::Valid => "USED",
    })
    .into())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    use super::*;
    use crate::db::orders::ItemRow;

    #[test]
    fn a_payload_verifies_with_the_published_key_only() {
        let (key, _) = SigningKey::generate().unwrap();
        let signer = TicketSigner::new(key);
        let seat = ItemRow {
            seat_id: Uuid::now_v7(),
            section: "A".into(),
            row: "1".into(),
            number: 7,
            price: service_kit::money::Money::parse("10.00").unwrap(),
        };
        let code = TicketCode::random();
        let event = Uuid::now_v7();
        let jws = signer
            .payload(&code, event, &seat, Utc::now() + Duration::days(3))
            .unwrap();
        let jwks = signer.jwks();
        let x = jwks["keys"][0]["x"].as_str().unwrap();
        let key = DecodingKey::from_ed_components(x).unwrap();
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<TicketClaims>(&jws, &key, &validation)
            .unwrap()
            .claims;
        assert_eq!(claims.sub, code.as_str());
        assert_eq!(claims.event_id, event);
        assert_eq!(claims.number, 7);
        let header = jsonwebtoken::decode_header(&jws).unwrap();
        assert_eq!(header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());

        let (other, _) = SigningKey::generate().unwrap();
        let other_x = other.jwk()["x"].as_str().unwrap().to_owned();
        let wrong = DecodingKey::from_ed_components(&other_x).unwrap();
        assert!(jsonwebtoken::decode::<TicketClaims>(&jws, &wrong, &validation).is_err());
    }

    #[test]
    fn the_qr_code_is_an_svg() {
        let svg = render_svg("header.claims.signature").unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"));
        assert!(svg.contains("</svg>"));
    }
}
