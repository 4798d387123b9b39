//! Stripe: a charge is a PaymentIntent created and confirmed in one call; a refund is a Refund of
//! that intent. Both are form-encoded, as Stripe's API wants, and carry our idempotency key in
//! Stripe's own `Idempotency-Key` header, so a retry never charges or refunds twice.
//!
//! Stripe cannot be asked about an idempotency key, so "what happened to key K" is answered from
//! the metadata we put on every object (`payment_id` on intents, `refund_id` on refunds):
//!
//! - a charge: Search (`GET /v1/payment_intents/search`, `metadata['payment_id']:'…'`) first. Search
//!   is eventually consistent (Stripe: "under normal operating conditions, data is searchable in
//!   less than a minute", up to an hour behind during outages; not offered in India), so not
//!   found there proves nothing: the List (`GET /v1/payment_intents`, `created` between the first
//!   attempt and the last, with a margin for the clocks), which is strongly consistent, decides,
//!   page by page up to a bound beyond which it answers "cannot tell yet".
//! - a refund: the List of the intent's refunds (`GET /v1/refunds?payment_intent=…`), strongly
//!   consistent and short.
//!
//! Amounts go in integer minor units (`Money::minor`), right for every two-decimal currency.
//! Zero-decimal currencies (JPY, KRW, ...) take the major unit at Stripe and are out of scope.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use service_kit::money::{Currency, Money};

use super::{
    ChargeCommand, ChargeLookup, GatewayError, GatewayOutcome, Lookup, RefundCommand, RefundLookup,
    RefundOutcome,
};

/// How long a call to Stripe may take before it counts as a gateway failure.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Decline reasons are Stripe's codes (a few dozen); longer text is not a code.
const MAX_REASON: usize = 64;

/// Stripe's largest page.
const PAGE: &str = "100";

/// How many pages of intents a charge lookup reads before it gives up for this round: 1 000
/// intents created around one payment is a busy shop; past that, it asks again next round.
const MAX_LIST_PAGES: usize = 10;

/// Around a payment's attempts, how far Stripe's `created` may stray: our clock against Stripe's,
/// and a request that reached Stripe a little after we gave up on it.
const CLOCK_MARGIN_SECONDS: i64 = 300;

pub struct StripeGateway {
    http: reqwest::Client,
    api_base: String,
    api_key: SecretString,
}

impl fmt::Debug for StripeGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeGateway")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

/// Stripe counts in the currency's smallest unit (cents, but whole yen).
fn smallest_unit(amount: Money, currency: Currency) -> Result<String, GatewayError> {
    amount
        .in_smallest_unit(currency)
        .map(|n| n.to_string())
        .ok_or_else(|| {
            GatewayError::new(format!(
                "{amount} {currency} has cents {currency} cannot carry"
            ))
        })
}

/// How the card is named: a PaymentMethod id (`pm_…`) as `payment_method`; a card token
/// (`tok_…`, the contract's) wrapped into a new card PaymentMethod, since Stripe takes
/// `payment_method` only for PaymentMethod ids.
fn card_fields(token: &str) -> Vec<(&'static str, &str)> {
    if token.starts_with("pm_") {
        vec![("payment_method", token)]
    } else {
        vec![
            ("payment_method_data[type]", "card"),
            ("payment_method_data[card][token]", token),
        ]
    }
}

impl StripeGateway {
    /// `api_base` without a trailing slash (`https://api.stripe.com`); tests pass a mock's.
    pub fn new(api_base: &str, api_key: SecretString, timeout: Duration) -> Self {
        Self {
            http: service_kit::client::http_client(timeout),
            api_base: api_base.trim_end_matches('/').to_owned(),
            api_key,
        }
    }

    pub async fn charge(&self, command: &ChargeCommand) -> Result<GatewayOutcome, GatewayError> {
        let amount = smallest_unit(command.amount, command.currency)?;
        let currency = command.currency.as_str().to_ascii_lowercase();
        let order_id = command.order_id.to_string();
        let payment_id = command.payment_id.to_string();
        let mut form = vec![
            ("amount", amount.as_str()),
            ("currency", currency.as_str()),
            ("confirm", "true"),
            // Card only, confirmed server-side: no redirect-based methods.
            ("automatic_payment_methods[enabled]", "true"),
            ("automatic_payment_methods[allow_redirects]", "never"),
            ("metadata[order_id]", order_id.as_str()),
            ("metadata[payment_id]", payment_id.as_str()),
        ];
        form.extend(card_fields(&command.token));
        let (status, body) = self
            .post("/v1/payment_intents", &command.idempotency_key, &form)
            .await?;
        if status.is_success() {
            return intent_outcome(&body);
        }
        let error = &body["error"];
        if status == StatusCode::PAYMENT_REQUIRED && error["type"] == "card_error" {
            return Ok(GatewayOutcome::Declined {
                reason: decline_reason(error, "card_declined"),
                reference: error["payment_intent"]["id"].as_str().map(str::to_owned),
            });
        }
        Err(self.failure(status, &body))
    }

    pub async fn refund(&self, command: &RefundCommand) -> Result<RefundOutcome, GatewayError> {
        let amount = smallest_unit(command.amount, command.currency)?;
        let payment_id = command.payment_id.to_string();
        let refund_id = command.refund_id.to_string();
        let form = [
            ("payment_intent", command.gateway_reference.as_str()),
            ("amount", amount.as_str()),
            ("metadata[payment_id]", payment_id.as_str()),
            // How the reconciler finds it, should this answer be lost.
            ("metadata[refund_id]", refund_id.as_str()),
        ];
        let (status, body) = self
            .post("/v1/refunds", &command.idempotency_key, &form)
            .await?;
        if !status.is_success() {
            return Err(self.failure(status, &body));
        }
        refund_outcome(&body)
    }

    /// Search by `metadata[payment_id]`; when search does not have it, the list of the intents
    /// created around the payment's attempts decides.
    pub async fn charge_status(
        &self,
        lookup: &ChargeLookup,
    ) -> Result<Lookup<GatewayOutcome>, GatewayError> {
        let payment_id = lookup.payment_id.to_string();
        let query = format!("metadata['payment_id']:'{payment_id}'");
        let (status, body) = self
            .get(
                "/v1/payment_intents/search",
                &[("query", query.as_str()), ("limit", "10")],
            )
            .await?;
        if status.is_success() {
            if let Some(intent) = find(&body, "payment_id", &payment_id) {
                return intent_lookup(intent);
            }
        } else {
            // Search may be unavailable (some accounts have none); the list still answers.
            tracing::warn!(%payment_id, error = %self.failure(status, &body), "Stripe's search failed; listing instead");
        }
        let from = (lookup.first_attempt.timestamp() - CLOCK_MARGIN_SECONDS).to_string();
        let to = (lookup.last_attempt.max(lookup.first_attempt).timestamp() + CLOCK_MARGIN_SECONDS)
            .to_string();
        let mut after: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut params = vec![
                ("created[gte]", from.as_str()),
                ("created[lte]", to.as_str()),
                ("limit", PAGE),
            ];
            if let Some(last) = &after {
                params.push(("starting_after", last.as_str()));
            }
            let page = self.list("/v1/payment_intents", &params).await?;
            if let Some(intent) = find(&page, "payment_id", &payment_id) {
                return intent_lookup(intent);
            }
            match next_page(&page) {
                Some(last) => after = Some(last),
                None => return Ok(Lookup::NotFound),
            }
        }
        Err(GatewayError::new(format!(
            "more than {} PaymentIntents were created around payment {payment_id}: cannot tell yet",
            MAX_LIST_PAGES * 100
        )))
    }

    /// The refund among the intent's refunds whose `metadata[refund_id]` is ours.
    pub async fn refund_status(
        &self,
        lookup: &RefundLookup,
    ) -> Result<Lookup<RefundOutcome>, GatewayError> {
        let refund_id = lookup.refund_id.to_string();
        let mut after: Option<String> = None;
        for _ in 0..MAX_LIST_PAGES {
            let mut params = vec![
                ("payment_intent", lookup.charge_reference.as_str()),
                ("limit", PAGE),
            ];
            if let Some(last) = &after {
                params.push(("starting_after", last.as_str()));
            }
            let page = self.list("/v1/refunds", &params).await?;
            if let Some(refund) = find(&page, "refund_id", &refund_id) {
                return refund_outcome(refund).map(Lookup::Decided);
            }
            match next_page(&page) {
                Some(last) => after = Some(last),
                None => return Ok(Lookup::NotFound),
            }
        }
        Err(GatewayError::new(format!(
            "more than {} refunds of {}: cannot tell yet",
            MAX_LIST_PAGES * 100,
            lookup.charge_reference
        )))
    }

    /// A page of a list; anything but a 2xx is a failure.
    async fn list(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, GatewayError> {
        let (status, body) = self.get(path, params).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(self.failure(status, &body))
        }
    }

    async fn get(
        &self,
        path: &str,
        params: &[(&str, &str)],
    ) -> Result<(StatusCode, Value), GatewayError> {
        let response = self
            .http
            .get(format!("{}{path}", self.api_base))
            .bearer_auth(self.api_key.expose_secret())
            .query(params)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        read(response).await
    }

    /// Sends a form and returns the status and the JSON body (null when it is not JSON: a
    /// proxy's error page, say; the status decides then).
    async fn post(
        &self,
        path: &str,
        idempotency_key: &str,
        form: &[(&str, &str)],
    ) -> Result<(StatusCode, Value), GatewayError> {
        let response = self
            .http
            .post(format!("{}{path}", self.api_base))
            .bearer_auth(self.api_key.expose_secret())
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send()
            .await
            .map_err(|e| transport(&e))?;
        read(response).await
    }

    /// Any answer that is neither a success nor a card decline: 5xx, or a 4xx about the request
    /// itself (bad key, bad parameters). Stripe's message, without our key should it echo it.
    fn failure(&self, status: StatusCode, body: &Value) -> GatewayError {
        let mut message = body["error"]["message"]
            .as_str()
            .unwrap_or("no message")
            .to_owned();
        let key = self.api_key.expose_secret();
        if !key.is_empty() {
            message = message.replace(key, "[redacted]");
        }
        GatewayError::new(format!("Stripe answered {status}: {message}"))
    }
}

/// The status and the JSON body (null when it is not JSON: a proxy's error page, say; the status
/// decides then).
async fn read(response: reqwest::Response) -> Result<(StatusCode, Value), GatewayError> {
    let status = response.status();
    let text = response.text().await.map_err(|e| transport(&e))?;
    Ok((status, serde_json::from_str(&text).unwrap_or_default()))
}

/// The object of a list (or search) page whose `metadata[field]` is `value`.
fn find<'a>(page: &'a Value, field: &str, value: &str) -> Option<&'a Value> {
    page["data"]
        .as_array()?
        .iter()
        .find(|object| object["metadata"][field] == value)
}

/// The cursor of the next page: the last object's id, when there is more.
fn next_page(page: &Value) -> Option<String> {
    if page["has_more"] != true {
        return None;
    }
    page["data"].as_array()?.last()?["id"]
        .as_str()
        .map(str::to_owned)
}

/// A refund Stripe answered: made (`succeeded`, or `pending` for methods that settle later: the
/// refund is Stripe's now), or refused (`failed`, `canceled`: nothing was given back).
fn refund_outcome(refund: &Value) -> Result<RefundOutcome, GatewayError> {
    let Some(id) = refund["id"].as_str() else {
        return Err(GatewayError::new("Stripe answered a refund without an id"));
    };
    match refund["status"].as_str() {
        Some(refused @ ("failed" | "canceled")) => Ok(RefundOutcome::Refused {
            reason: refund["failure_reason"]
                .as_str()
                .unwrap_or(refused)
                .chars()
                .take(MAX_REASON)
                .collect(),
        }),
        _ => Ok(RefundOutcome::Made {
            reference: id.to_owned(),
        }),
    }
}

/// What an intent found after the fact says: decided as [`intent_outcome`] reads it, or not yet
/// (`processing`, or waiting for a confirmation or a capture we never asked for).
fn intent_lookup(intent: &Value) -> Result<Lookup<GatewayOutcome>, GatewayError> {
    match intent["status"].as_str() {
        Some("processing" | "requires_confirmation" | "requires_capture") => Ok(Lookup::Undecided),
        _ => intent_outcome(intent).map(Lookup::Decided),
    }
}

fn transport(error: &reqwest::Error) -> GatewayError {
    if error.is_timeout() {
        GatewayError::new("Stripe did not answer in time")
    } else {
        GatewayError::new(format!("Stripe could not be reached: {error}"))
    }
}

/// A confirmed PaymentIntent: succeeded, or one the card did not get through.
fn intent_outcome(intent: &Value) -> Result<GatewayOutcome, GatewayError> {
    let Some(id) = intent["id"].as_str() else {
        return Err(GatewayError::new(
            "Stripe answered a payment intent without an id",
        ));
    };
    match intent["status"].as_str() {
        Some("succeeded") => Ok(GatewayOutcome::Succeeded {
            reference: id.to_owned(),
        }),
        // Without redirects there is no one to complete an authentication: a decline.
        Some("requires_action") => Ok(GatewayOutcome::Declined {
            reason: "authentication_required".into(),
            reference: Some(id.to_owned()),
        }),
        Some("requires_payment_method" | "canceled") => Ok(GatewayOutcome::Declined {
            reason: decline_reason(&intent["last_payment_error"], "card_declined"),
            reference: Some(id.to_owned()),
        }),
        // `processing` and the like: not decided yet; the payment stays PENDING.
        other => Err(GatewayError::new(format!(
            "Stripe's payment intent {id} is {}",
            other.unwrap_or("without a status")
        ))),
    }
}

/// The most precise code Stripe gives: `decline_code` (`insufficient_funds`), else `code`.
fn decline_reason(error: &Value, fallback: &str) -> String {
    error["decline_code"]
        .as_str()
        .or_else(|| error["code"].as_str())
        .unwrap_or(fallback)
        .chars()
        .take(MAX_REASON)
        .collect()
}
