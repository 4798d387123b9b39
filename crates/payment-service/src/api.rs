//! The JSON shapes of payment-service's API, and their validation into domain values.

use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use service_kit::money::{Currency, Money};
use service_kit::problem::FieldError;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::payments::PaymentRow;
use crate::domain::{CardToken, METHOD_CARD, PaymentStatus};

/// The longest refund reason kept.
pub const MAX_REASON_CHARS: usize = 500;
/// The most payments one page lists.
pub const MAX_PAGE_LIMIT: u32 = 100;
pub const DEFAULT_PAGE_LIMIT: u32 = 20;

/// A charge. Serialised again only to fingerprint it for `Idempotency-Key`; it is never logged.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChargeRequest {
    pub order_id: Uuid,
    /// More than zero: a decimal string with at most two places (`"262.50"`), whole in a
    /// currency without cents (JPY); JSON numbers are refused.
    #[schema(schema_with = service_kit::money::positive_amount_schema)]
    pub amount: Money,
    #[schema(example = "EUR", value_type = Currency)]
    pub currency: String,
    #[schema(example = "card", value_type = PaymentMethod)]
    pub method: String,
    /// The gateway's token for the card (`tok_visa`): 1 to 255 visible ASCII characters, never a
    /// card number (12 to 19 digits, maybe with dashes).
    #[schema(example = "tok_visa", max_length = 255, pattern = "^[!-~]+$")]
    pub token: String,
    /// The payer, when a service charges on a user's behalf. A user may omit it (it is them)
    /// and may not name anyone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    // Declared only to refuse them: a raw card number must never be accepted. Their values are
    // skipped unread and never stored, fingerprinted or logged.
    #[serde(rename = "cardNumber", default, skip_serializing)]
    #[schema(ignore)]
    pub card_number: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub number: Option<IgnoredAny>,
}

/// The only payment method.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // only its schema is used: the request keeps the text, to say what is wrong
pub enum PaymentMethod {
    Card,
}

/// A charge that passed validation.
#[derive(Debug)]
pub struct Charge {
    pub order_id: Uuid,
    pub user_id: Option<Uuid>,
    pub amount: Money,
    pub currency: Currency,
    pub token: CardToken,
}

impl ChargeRequest {
    pub fn validate(&self) -> Result<Charge, Vec<FieldError>> {
        let mut errors = Vec::new();
        for (present, field) in [
            (self.card_number.is_some(), "cardNumber"),
            (self.number.is_some(), "number"),
        ] {
            if present {
                errors.push(FieldError::new(
                    field,
                    "card numbers are never accepted; send the gateway's `token` for the card",
                ));
            }
        }
        if !self.amount.is_positive() {
            errors.push(FieldError::new("amount", "must be more than zero"));
        }
        let currency = Currency::parse(&self.currency)
            .map_err(|m| errors.push(FieldError::new("currency", m)))
            .ok();
        if currency.is_some_and(|c| self.amount.in_smallest_unit(c).is_none()) {
            errors.push(FieldError::new("amount", "this currency has no cents"));
        }
        if self.method != METHOD_CARD {
            errors.push(FieldError::new("method", "must be `card`"));
        }
        let token = CardToken::parse(&self.token)
            .map_err(|m| errors.push(FieldError::new("token", m)))
            .ok();
        match (currency, token) {
            (Some(currency), Some(token)) if errors.is_empty() => Ok(Charge {
                order_id: self.order_id,
                user_id: self.user_id,
                amount: self.amount,
                currency,
                token,
            }),
            _ => Err(errors),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// What to give back, more than zero; by default all that remains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = service_kit::money::positive_amount_schema)]
    pub amount: Option<Money>,
    /// Why, for the record (1 to 500 characters, trimmed).
    #[schema(max_length = 500, pattern = r"\S")]
    pub reason: String,
}

/// A refund that passed validation.
#[derive(Debug)]
pub struct Refund {
    pub amount: Option<Money>,
    pub reason: String,
}

impl RefundRequest {
    pub fn validate(&self) -> Result<Refund, Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.amount.is_some_and(|a| !a.is_positive()) {
            errors.push(FieldError::new("amount", "must be more than zero"));
        }
        let reason = self.reason.trim();
        if !(1..=MAX_REASON_CHARS).contains(&reason.chars().count()) {
            errors.push(FieldError::new(
                "reason",
                format!("must be 1 to {MAX_REASON_CHARS} characters"),
            ));
        }
        if errors.is_empty() {
            Ok(Refund {
                amount: self.amount,
                reason: reason.to_owned(),
            })
        } else {
            Err(errors)
        }
    }
}

/// A payment as the contract shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentView {
    pub id: Uuid,
    pub order_id: Uuid,
    pub user_id: Uuid,
    pub amount: Money,
    pub refunded_amount: Money,
    #[schema(value_type = String, example = "EUR")]
    pub currency: Currency,
    #[schema(example = "card")]
    pub method: String,
    pub status: PaymentStatus,
    /// `simulated` or `stripe`.
    pub gateway: String,
    pub gateway_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PaymentRow> for PaymentView {
    fn from(row: PaymentRow) -> Self {
        Self {
            id: row.id,
            order_id: row.order_id,
            user_id: row.user_id,
            amount: row.amount,
            refunded_amount: row.refunded_amount,
            currency: row.currency,
            method: row.method,
            status: row.status,
            gateway: row.gateway,
            gateway_reference: row.gateway_reference,
            failure_reason: row.failure_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PaymentQuery {
    /// Only the payments of this order (failed attempts included).
    pub order_id: Option<Uuid>,
    /// From 1.
    #[param(maximum = 4_294_967_295_u64)]
    pub page: Option<u32>,
    /// 1 to 100, default 20.
    pub limit: Option<u32>,
}

/// A valid page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// From 1.
    pub number: u32,
    pub limit: u32,
}

impl Page {
    pub fn offset(self) -> i64 {
        i64::from(self.number.saturating_sub(1)) * i64::from(self.limit)
    }
}

impl PaymentQuery {
    pub fn page(&self) -> Result<Page, Vec<FieldError>> {
        let mut errors = Vec::new();
        let page = self.page.unwrap_or(1);
        if page == 0 {
            errors.push(FieldError::new("page", "starts at 1"));
        }
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_LIMIT);
        if !(1..=MAX_PAGE_LIMIT).contains(&limit) {
            errors.push(FieldError::new(
                "limit",
                format!("must be 1 to {MAX_PAGE_LIMIT}"),
            ));
        }
        if errors.is_empty() {
            Ok(Page {
                number: page,
                limit,
            })
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentList {
    pub items: Vec<PaymentView>,
    pub page: u32,
    pub limit: u32,
    pub total: i64,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(body: serde_json::Value) -> Result<ChargeRequest, serde_json::Error> {
        serde_json::from_value(body)
    }

    fn valid() -> serde_json::Value {
        json!({
            "orderId": Uuid::now_v7(),
            "amount": "262.50",
            "currency": "EUR",
            "method": "card",
            "token": "tok_visa",
        })
    }

    fn invalid_fields(body: serde_json::Value) -> Vec<String> {
        match request(body).unwrap().validate() {
            Err(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_charge_passes() {
        let charge = request(valid()).unwrap().validate().unwrap();
        assert_eq!(charge.amount.to_string(), "262.50");
        assert_eq!(charge.currency.as_str(), "EUR");
        assert_eq!(charge.token.as_str(), "tok_visa");
    }

    #[test]
    fn card_numbers_are_refused_whatever_the_field() {
        let mut body = valid();
        body["cardNumber"] = json!("4242424242424242");
        assert_eq!(invalid_fields(body), ["cardNumber"]);
        let mut body = valid();
        body["number"] = json!({"pan": "4242424242424242"});
        assert_eq!(invalid_fields(body), ["number"]);
    }

    #[test]
    fn a_card_number_never_reaches_the_fingerprint() {
        let mut body = valid();
        body["cardNumber"] = json!("4242424242424242");
        let serialized = serde_json::to_string(&request(body).unwrap()).unwrap();
        assert!(!serialized.contains("4242"));
    }

    #[test]
    fn amount_currency_and_method_are_checked() {
        let mut body = valid();
        body["amount"] = json!("-5.00");
        body["currency"] = json!("EURO");
        body["method"] = json!("paypal");
        assert_eq!(invalid_fields(body), ["amount", "currency", "method"]);
        let mut body = valid();
        body["amount"] = json!("0");
        assert_eq!(invalid_fields(body), ["amount"]);
    }

    #[test]
    fn amounts_with_three_decimals_or_as_numbers_do_not_parse() {
        let mut body = valid();
        body["amount"] = json!("10.505");
        assert!(request(body).is_err());
        let mut body = valid();
        body["amount"] = json!(10.5);
        assert!(request(body).is_err());
    }

    #[test]
    fn a_refund_needs_a_reason_and_a_positive_amount() {
        let ok = RefundRequest {
            amount: None,
            reason: " customer asked ".into(),
        };
        assert_eq!(ok.validate().unwrap().reason, "customer asked");
        let bad = RefundRequest {
            amount: Some(Money::ZERO),
            reason: "  ".into(),
        };
        assert!(matches!(bad.validate(), Err(e) if e.len() == 2));
    }

    #[test]
    fn pages_are_bounded() {
        let query = |page, limit| PaymentQuery {
            order_id: None,
            page,
            limit,
        };
        assert_eq!(
            query(None, None).page().unwrap(),
            Page {
                number: 1,
                limit: DEFAULT_PAGE_LIMIT
            }
        );
        assert_eq!(query(Some(3), Some(10)).page().unwrap().offset(), 20);
        assert!(query(Some(0), None).page().is_err());
        assert!(query(None, Some(101)).page().is_err());
    }
}
