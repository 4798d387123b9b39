//! Stripe: a charge is a PaymentIntent created and confirmed in one call; a refund is a Refund of
//! that intent. Both are form-encoded, as Stripe's API wants, and carry our idempotency key in
//! Stripe's own `Idempotency-Key` header, so a retry never charges or refunds twice.
//!
//! Amounts go in integer minor units (`Money::minor`), right for every two-decimal currency.
//! Zero-decimal currencies (JPY, KRW, ...) take the major unit at Stripe and are out of scope.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use service_kit::money::{Currency, Money};

use super::{ChargeCommand, GatewayError, GatewayOutcome, GatewayRefund, RefundCommand};

/// How long a call to Stripe may take before it counts as a gateway failure.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Decline reasons are Stripe's codes (a few dozen); longer text is not a code.
const MAX_REASON: usize = 64;

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

    pub async fn refund(&self, command: &RefundCommand) -> Result<GatewayRefund, GatewayError> {
        let amount = smallest_unit(command.amount, command.currency)?;
        let payment_id = command.payment_id.to_string();
        let form = [
            ("payment_intent", command.gateway_reference.as_str()),
            ("amount", amount.as_str()),
            ("metadata[payment_id]", payment_id.as_str()),
        ];
        let (status, body) = self
            .post("/v1/refunds", &command.idempotency_key, &form)
            .await?;
        if !status.is_success() {
            return Err(self.failure(status, &body));
        }
        let Some(id) = body["id"].as_str() else {
            return Err(GatewayError::new("Stripe answered a refund without an id"));
        };
        match body["status"].as_str() {
            Some(refused @ ("failed" | "canceled")) => Err(GatewayError::new(format!(
                "Stripe's refund {id} is {refused}"
            ))),
            // `succeeded`, or `pending` for methods that settle later: the refund is Stripe's now.
            _ => Ok(GatewayRefund {
                reference: id.to_owned(),
            }),
        }
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
        let status = response.status();
        let text = response.text().await.map_err(|e| transport(&e))?;
        Ok((status, serde_json::from_str(&text).unwrap_or_default()))
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
