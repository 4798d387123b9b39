//! The fleet as the storefront sees it: the services' public HTTP APIs, called with the buyer's
//! (or organizer's) own token. No service token, no database: what a browser could do, done on
//! the server so that tokens never reach the browser.
//!
//! Display-only answers (an event, an order) stay JSON values handed to the templates as they
//! come; what the storefront reasons about (tokens, the seat map) is typed.

use std::time::Duration;

use axum::http::StatusCode;
use reqwest::{Method, RequestBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::config::Config;
use crate::seatmap::{Layout, SeatStatus};

/// A field the service refused, as its problem names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldError {
    #[serde(default)]
    pub field: String,
    #[serde(default)]
    pub message: String,
}

/// What went wrong with a call: the service's RFC 9457 problem, or no answer at all.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("{service} answered {status}: {title}")]
    Problem {
        service: &'static str,
        status: StatusCode,
        /// The problem's `type`, last path segment (`seat-taken`, `payment-declined`, …).
        kind: String,
        title: String,
        detail: String,
        errors: Vec<FieldError>,
        conflicts: Vec<String>,
    },
    #[error("{service} could not be reached: {reason}")]
    Unreachable {
        service: &'static str,
        reason: String,
    },
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Problem { status, .. } => *status,
            Self::Unreachable { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    /// The sentence a person should read.
    pub fn message(&self) -> String {
        match self {
            Self::Problem { title, detail, .. } if detail.is_empty() => title.clone(),
            Self::Problem { detail, .. } => detail.clone(),
            Self::Unreachable { service, .. } => {
                format!("The {service} does not answer right now. Please try again in a moment.")
            }
        }
    }

    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Problem { errors, .. } => errors,
            Self::Unreachable { .. } => &[],
        }
    }
}

/// A signed-in answer of user-service (`login` and `refresh`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tokens {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_token: String,
    pub user: UserView,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: String,
}

/// The catalog's event filters, as the browse page's form sends them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventFilters {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// A day (`YYYY-MM-DD`): events starting on it or later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A day: events starting on it or earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
}

/// The services' base URLs and two HTTP clients: one with a deadline for ordinary calls, one
/// without for the seat map's never-ending stream.
#[derive(Clone)]
pub struct Fleet {
    http: reqwest::Client,
    streams: reqwest::Client,
    user: String,
    catalog: String,
    seating: String,
    order: String,
}

const USER: &str = "account service";
const CATALOG: &str = "event catalogue";
const SEATING: &str = "seat map";
const ORDER: &str = "order service";

impl Fleet {
    pub fn new(config: &Config) -> Self {
        Self {
            http: service_kit::client::http_client(config.upstream_timeout),
            streams: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .build()
                .unwrap_or_default(),
            user: config.user_url.clone(),
            catalog: config.catalog_url.clone(),
            seating: config.seating_url.clone(),
            order: config.order_url.clone(),
        }
    }

    fn request(&self, method: Method, url: String, token: Option<&str>) -> RequestBuilder {
        let mut request = self.http.request(method, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(id) = service_kit::telemetry::current_request_id() {
            request = request.header("x-request-id", id);
        }
        request
    }

    // --- user-service -----------------------------------------------------------------------

    pub async fn register(
        &self,
        name: &str,
        email: &str,
        password: &str,
    ) -> Result<Value, ApiError> {
        let body = json!({ "name": name, "email": email, "password": password });
        let url = format!("{}/v1/users", self.user);
        send(USER, self.request(Method::POST, url, None).json(&body)).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<Tokens, ApiError> {
        let body = json!({ "email": email, "password": password });
        let url = format!("{}/v1/auth/login", self.user);
        typed(
            USER,
            send(USER, self.request(Method::POST, url, None).json(&body)).await?,
        )
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, ApiError> {
        let body = json!({ "refreshToken": refresh_token });
        let url = format!("{}/v1/auth/refresh", self.user);
        typed(
            USER,
            send(USER, self.request(Method::POST, url, None).json(&body)).await?,
        )
    }

    pub async fn logout(&self, token: &str, refresh_token: &str) -> Result<Value, ApiError> {
        let body = json!({ "refreshToken": refresh_token });
        let url = format!("{}/v1/auth/logout", self.user);
        send(
            USER,
            self.request(Method::POST, url, Some(token)).json(&body),
        )
        .await
    }

    // --- catalog-service --------------------------------------------------------------------

    /// A page of events; an organizer's token also lists drafts.
    pub async fn events(
        &self,
        filters: &EventFilters,
        status: Option<&str>,
        limit: u32,
        token: Option<&str>,
    ) -> Result<Value, ApiError> {
        let mut query: Vec<(&str, String)> = vec![("limit", limit.to_string())];
        let mut add = |name, value: &Option<String>| {
            if let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                query.push((name, value.to_owned()));
            }
        };
        add("city", &filters.city);
        add("type", &filters.kind);
        add("q", &filters.q);
        add("from", &filters.from.as_deref().and_then(day_start));
        add("to", &filters.to.as_deref().and_then(day_after));
        if let Some(status) = status {
            query.push(("status", status.to_owned()));
        }
        query.push(("page", filters.page.unwrap_or(1).max(1).to_string()));
        let url = format!("{}/v1/events", self.catalog);
        send(CATALOG, self.request(Method::GET, url, token).query(&query)).await
    }

    pub async fn event(&self, id: Uuid, token: Option<&str>) -> Result<Value, ApiError> {
        let url = format!("{}/v1/events/{id}", self.catalog);
        send(CATALOG, self.request(Method::GET, url, token)).await
    }

    pub async fn venues(&self) -> Result<Value, ApiError> {
        let url = format!("{}/v1/venues", self.catalog);
        send(
            CATALOG,
            self.request(Method::GET, url, None)
                .query(&[("limit", "100")]),
        )
        .await
    }

    pub async fn create_venue(&self, token: &str, venue: &Value) -> Result<Value, ApiError> {
        let url = format!("{}/v1/venues", self.catalog);
        send(
            CATALOG,
            self.request(Method::POST, url, Some(token)).json(venue),
        )
        .await
    }

    pub async fn create_event(&self, token: &str, event: &Value) -> Result<Value, ApiError> {
        let url = format!("{}/v1/events", self.catalog);
        send(
            CATALOG,
            self.request(Method::POST, url, Some(token)).json(event),
        )
        .await
    }

    pub async fn put_layout(
        &self,
        token: &str,
        id: Uuid,
        layout: &Value,
    ) -> Result<Value, ApiError> {
        let url = format!("{}/v1/events/{id}/seats", self.catalog);
        let body = json!({ "layout": layout });
        send(
            CATALOG,
            self.request(Method::PUT, url, Some(token)).json(&body),
        )
        .await
    }

    pub async fn publish(&self, token: &str, id: Uuid) -> Result<Value, ApiError> {
        let url = format!("{}/v1/events/{id}/publish", self.catalog);
        send(CATALOG, self.request(Method::POST, url, Some(token))).await
    }

    pub async fn cancel_event(
        &self,
        token: &str,
        id: Uuid,
        reason: &str,
    ) -> Result<Value, ApiError> {
        let url = format!("{}/v1/events/{id}/cancel", self.catalog);
        let body = json!({ "reason": reason });
        send(
            CATALOG,
            self.request(Method::POST, url, Some(token)).json(&body),
        )
        .await
    }

    // --- seating-service --------------------------------------------------------------------

    pub async fn seat_status(&self, event: Uuid) -> Result<SeatStatus, ApiError> {
        let url = format!("{}/v1/events/{event}/seatmap/status", self.seating);
        typed(
            SEATING,
            send(SEATING, self.request(Method::GET, url, None)).await?,
        )
    }

    pub async fn layout(&self, event: Uuid, version: i64) -> Result<Layout, ApiError> {
        let url = format!("{}/v1/events/{event}/seatmap/layout", self.seating);
        let request = self
            .request(Method::GET, url, None)
            .query(&[("v", version)]);
        typed(SEATING, send(SEATING, request).await?)
    }

    /// The seat map's Server-Sent Events, as seating answers them (status and body untouched).
    pub async fn seat_stream(
        &self,
        event: Uuid,
        last_event_id: Option<&str>,
    ) -> Result<reqwest::Response, ApiError> {
        let url = format!("{}/v1/events/{event}/seatmap/stream", self.seating);
        let mut request = self.streams.get(url).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        request.send().await.map_err(|e| unreachable(SEATING, &e))
    }

    // --- order-service ----------------------------------------------------------------------

    pub async fn create_order(
        &self,
        token: &str,
        idempotency_key: &str,
        event: Uuid,
        seats: &[Uuid],
    ) -> Result<Value, ApiError> {
        let url = format!("{}/v1/orders", self.order);
        let body = json!({ "eventId": event, "seatIds": seats });
        let request = self.request(Method::POST, url, Some(token));
        send(
            ORDER,
            request
                .header("idempotency-key", idempotency_key)
                .json(&body),
        )
        .await
    }

    pub async fn pay(
        &self,
        token: &str,
        idempotency_key: &str,
        order: Uuid,
        card: &str,
    ) -> Result<Value, ApiError> {
        let url = format!("{}/v1/orders/{order}/pay", self.order);
        let body = json!({ "method": "card", "token": card });
        let request = self.request(Method::POST, url, Some(token));
        send(
            ORDER,
            request
                .header("idempotency-key", idempotency_key)
                .json(&body),
        )
        .await
    }

    pub async fn order(&self, token: &str, id: Uuid) -> Result<Value, ApiError> {
        let url = format!("{}/v1/orders/{id}", self.order);
        send(ORDER, self.request(Method::GET, url, Some(token))).await
    }

    pub async fn orders(&self, token: &str, page: u32) -> Result<Value, ApiError> {
        let url = format!("{}/v1/orders", self.order);
        let query = [("page", page.max(1)), ("limit", 50)];
        send(
            ORDER,
            self.request(Method::GET, url, Some(token)).query(&query),
        )
        .await
    }

    pub async fn cancel_order(&self, token: &str, id: Uuid) -> Result<Value, ApiError> {
        let url = format!("{}/v1/orders/{id}/cancel", self.order);
        send(ORDER, self.request(Method::POST, url, Some(token))).await
    }

    pub async fn ticket(&self, token: &str, code: &str) -> Result<Value, ApiError> {
        let url = format!("{}/v1/tickets/{}", self.order, encode_segment(code));
        send(ORDER, self.request(Method::GET, url, Some(token))).await
    }

    pub async fn check_in(&self, token: &str, code: &str) -> Result<Value, ApiError> {
        let url = format!(
            "{}/v1/tickets/{}/check-in",
            self.order,
            encode_segment(code)
        );
        send(ORDER, self.request(Method::POST, url, Some(token))).await
    }

    /// The ticket's QR code as SVG (order-service draws it).
    pub async fn ticket_qr(&self, token: &str, code: &str) -> Result<String, ApiError> {
        let url = format!("{}/v1/tickets/{}/qr.svg", self.order, encode_segment(code));
        let response = self
            .request(Method::GET, url, Some(token))
            .send()
            .await
            .map_err(|e| unreachable(ORDER, &e))?;
        if !response.status().is_success() {
            return Err(problem(ORDER, response).await);
        }
        response.text().await.map_err(|e| unreachable(ORDER, &e))
    }
}

/// A ticket code as one path segment: whatever it holds, it cannot leave its segment.
fn encode_segment(raw: &str) -> String {
    percent_encoding::utf8_percent_encode(raw, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn day_start(day: &str) -> Option<String> {
    let day = chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok()?;
    Some(format!("{day}T00:00:00Z"))
}

/// The instant after the given day: the catalog's `to` is exclusive, a person's "to" is not.
fn day_after(day: &str) -> Option<String> {
    let day = chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok()?;
    Some(format!("{}T00:00:00Z", day.succ_opt()?))
}

async fn send(service: &'static str, request: RequestBuilder) -> Result<Value, ApiError> {
    let response = request.send().await.map_err(|e| unreachable(service, &e))?;
    if !response.status().is_success() {
        return Err(problem(service, response).await);
    }
    if response.status() == StatusCode::NO_CONTENT {
        return Ok(Value::Null);
    }
    response.json().await.map_err(|e| unreachable(service, &e))
}

fn typed<T: serde::de::DeserializeOwned>(
    service: &'static str,
    value: Value,
) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError::Unreachable {
        service,
        reason: format!("unexpected answer: {e}"),
    })
}

fn unreachable(service: &'static str, error: &reqwest::Error) -> ApiError {
    tracing::warn!(service, error = %error, "call failed");
    ApiError::Unreachable {
        service,
        reason: error.to_string(),
    }
}

async fn problem(service: &'static str, response: reqwest::Response) -> ApiError {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    let kind = text("type")
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let title = Some(text("title"))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("Error").to_owned());
    ApiError::Problem {
        service,
        status,
        kind,
        title,
        detail: text("detail"),
        errors: serde_json::from_value(body["errors"].clone()).unwrap_or_default(),
        conflicts: serde_json::from_value(body["conflicts"].clone()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_range_is_inclusive_at_both_ends() {
        assert_eq!(
            day_start("2026-12-01").as_deref(),
            Some("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            day_after("2026-12-31").as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(day_start("tomorrow"), None);
    }

    #[test]
    fn a_code_cannot_leave_its_path_segment() {
        assert_eq!(encode_segment("AB-12"), "AB%2D12");
        assert_eq!(encode_segment("../x?y"), "%2E%2E%2Fx%3Fy");
    }
}
