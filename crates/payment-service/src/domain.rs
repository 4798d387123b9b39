//! Payment values and the payment's state machine. No axum, no sqlx.

use std::cmp::Ordering;
use std::fmt;

use serde::{Deserialize, Serialize};
use service_kit::money::Money;

/// The only payment method offered: a card, represented by a gateway token.
pub const METHOD_CARD: &str = "card";

/// A payment's life:
///
/// ```text
/// PENDING ──> SUCCESS ──> PARTIALLY_REFUNDED ──> REFUNDED
///    │           └───────────────────────────────────┘ (a refund of everything at once)
///    └──> FAILED
/// ```
///
/// PENDING while the gateway has not answered (or failed: the payment stays retryable); FAILED
/// when the card was declined (final: the order may be paid with a new attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    Pending,
    Success,
    Failed,
    PartiallyRefunded,
    Refunded,
}

/// A refund's life: written down PENDING, with its amount reserved on the payment, before the
/// gateway is called; SUCCESS once the gateway made it; FAILED (its reservation released) when the
/// gateway refused it or, asked later, had never seen it. A FAILED refund retried with its own key
/// is tried again under the same gateway key, so it can never be made twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Pending,
    Success,
    Failed,
}

impl RefundStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "PENDING" => Ok(Self::Pending),
            "SUCCESS" => Ok(Self::Success),
            "FAILED" => Ok(Self::Failed),
            other => Err(format!("unknown refund status `{other}`")),
        }
    }
}

impl fmt::Display for RefundStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for RefundStatus {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

/// The failure reason of a charge or a refund the gateway, asked by its key, had never seen: it
/// never reached the gateway, so nothing moved.
pub const NOT_AT_GATEWAY: &str = "not_at_gateway";

/// Why a refund is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("a {0} payment cannot be refunded")]
    NotRefundable(PaymentStatus),
    #[error("the refunds would exceed the amount charged")]
    ExceedsCharge,
    #[error("a refund must be more than zero")]
    NothingToRefund,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::PartiallyRefunded => "PARTIALLY_REFUNDED",
            Self::Refunded => "REFUNDED",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "PENDING" => Ok(Self::Pending),
            "SUCCESS" => Ok(Self::Success),
            "FAILED" => Ok(Self::Failed),
            "PARTIALLY_REFUNDED" => Ok(Self::PartiallyRefunded),
            "REFUNDED" => Ok(Self::Refunded),
            other => Err(format!("unknown payment status `{other}`")),
        }
    }

    /// The status once refunds total `refunded_total` of a payment that charged `charged`.
    /// Only SUCCESS and PARTIALLY_REFUNDED payments can be refunded, and never beyond the charge.
    pub fn after_refund(
        self,
        charged: Money,
        refunded_total: Money,
    ) -> Result<Self, RefundRefusal> {
        match self {
            Self::Success | Self::PartiallyRefunded => {}
            Self::Pending | Self::Failed | Self::Refunded => {
                return Err(RefundRefusal::NotRefundable(self));
            }
        }
        if !refunded_total.is_positive() {
            return Err(RefundRefusal::NothingToRefund);
        }
        match refunded_total.cmp(&charged) {
            Ordering::Less => Ok(Self::PartiallyRefunded),
            Ordering::Equal => Ok(Self::Refunded),
            Ordering::Greater => Err(RefundRefusal::ExceedsCharge),
        }
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How rows are read (`db` stores it with `text_column!`): the database's CHECK allows only these;
/// anything else fails the read, naming the value.
impl TryFrom<String> for PaymentStatus {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

/// A gateway's token for a card (`tok_visa`, `pm_...`). Never a card number: something that looks
/// like one is refused, so that a client's mistake cannot put a card number in our database.
#[derive(Clone, PartialEq, Eq)]
pub struct CardToken(String);

impl CardToken {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let visible = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if !visible {
            return Err("must be 1 to 255 visible ASCII characters".into());
        }
        if looks_like_card_number(raw) {
            return Err(
                "looks like a card number; send the gateway's token for the card instead".into(),
            );
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Never printed whole: a token is not a card number, but it is still the payer's.
impl fmt::Debug for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardToken(..)")
    }
}

/// 12 to 19 digits, possibly grouped with dashes: the shape of a primary account number.
fn looks_like_card_number(raw: &str) -> bool {
    let digits = raw.bytes().filter(u8::is_ascii_digit).count();
    raw.bytes().all(|b| b.is_ascii_digit() || b == b'-') && (12..=19).contains(&digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn a_partial_refund_then_the_rest_goes_partially_refunded_then_refunded() {
        let charged = m("100.00");
        let first = PaymentStatus::Success.after_refund(charged, m("30.00"));
        assert_eq!(first, Ok(PaymentStatus::PartiallyRefunded));
        let second = PaymentStatus::PartiallyRefunded.after_refund(charged, m("100.00"));
        assert_eq!(second, Ok(PaymentStatus::Refunded));
    }

    #[test]
    fn a_full_refund_goes_straight_to_refunded() {
        assert_eq!(
            PaymentStatus::Success.after_refund(m("50.00"), m("50.00")),
            Ok(PaymentStatus::Refunded)
        );
    }

    #[test]
    fn refunds_never_exceed_the_charge() {
        assert_eq!(
            PaymentStatus::Success.after_refund(m("50.00"), m("50.01")),
            Err(RefundRefusal::ExceedsCharge)
        );
        assert_eq!(
            PaymentStatus::PartiallyRefunded.after_refund(m("50.00"), m("60.00")),
            Err(RefundRefusal::ExceedsCharge)
        );
    }

    #[test]
    fn only_settled_payments_with_money_left_can_be_refunded() {
        for status in [
            PaymentStatus::Pending,
            PaymentStatus::Failed,
            PaymentStatus::Refunded,
        ] {
            assert_eq!(
                status.after_refund(m("50.00"), m("10.00")),
                Err(RefundRefusal::NotRefundable(status))
            );
        }
    }

    #[test]
    fn a_refund_of_nothing_is_refused() {
        assert_eq!(
            PaymentStatus::Success.after_refund(m("50.00"), Money::ZERO),
            Err(RefundRefusal::NothingToRefund)
        );
    }

    #[test]
    fn statuses_round_trip_through_their_stored_form() {
        for status in [
            PaymentStatus::Pending,
            PaymentStatus::Success,
            PaymentStatus::Failed,
            PaymentStatus::PartiallyRefunded,
            PaymentStatus::Refunded,
        ] {
            assert_eq!(PaymentStatus::parse(status.as_str()), Ok(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert!(PaymentStatus::parse("success").is_err());
    }

    #[test]
    fn refund_statuses_round_trip_through_their_stored_form() {
        for status in [
            RefundStatus::Pending,
            RefundStatus::Success,
            RefundStatus::Failed,
        ] {
            assert_eq!(RefundStatus::parse(status.as_str()), Ok(status));
        }
        assert!(RefundStatus::parse("REFUNDED").is_err());
    }

    #[test]
    fn a_token_is_never_a_card_number() {
        assert!(CardToken::parse("tok_visa").is_ok());
        assert!(CardToken::parse("pm_card_visa").is_ok());
        assert!(CardToken::parse("4242424242424242").is_err());
        assert!(CardToken::parse("4242-4242-4242-4242").is_err());
        assert!(CardToken::parse("").is_err());
        assert!(CardToken::parse("tok visa").is_err());
        assert!(!format!("{:?}", CardToken::parse("tok_visa").unwrap()).contains("visa"));
    }
}
