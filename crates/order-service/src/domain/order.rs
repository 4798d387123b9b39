//! An order's statuses and the steps of the saga that moves it.
//!
//! ```text
//!  RESERVING --reserve--> PENDING_PAYMENT --charge--> (allocate) --> CONFIRMED
//!      |                      |   |           |            |              |
//!   refused: deleted      expiry  cancel    decline    hold gone:      cancel / event
//!                            |     |          |        refund          cancelled:
//!                            v     v          v          v             refund, return
//!                         EXPIRED CANCELLED PAYMENT_FAILED EXPIRED        REFUNDED
//! ```
//!
//! Who moves an order: the buyer (create, pay, cancel), an admin (cancel, even after a check-in),
//! the expiry sweeper (PENDING_PAYMENT past its hold), the event-cancellation worker, and the
//! recovery task (any step whose lease ran out).

use serde::{Deserialize, Serialize};
use service_kit::money::Money;
use utoipa::ToSchema;

use super::UnknownValue;

/// The tax rate, in percent of the subtotal.
pub const TAX_PERCENT: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Internal: the seats are being held. Never shown.
    #[serde(skip)]
    Reserving,
    PendingPayment,
    Confirmed,
    PaymentFailed,
    Cancelled,
    Expired,
    Refunded,
}

impl OrderStatus {
    pub const ALL: [Self; 7] = [
        Self::Reserving,
        Self::PendingPayment,
        Self::Confirmed,
        Self::PaymentFailed,
        Self::Cancelled,
        Self::Expired,
        Self::Refunded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserving => "RESERVING",
            Self::PendingPayment => "PENDING_PAYMENT",
            Self::Confirmed => "CONFIRMED",
            Self::PaymentFailed => "PAYMENT_FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
            Self::Refunded => "REFUNDED",
        }
    }

    /// Nothing more will happen to the order.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::PaymentFailed | Self::Cancelled | Self::Expired | Self::Refunded
        )
    }
}

impl TryFrom<String> for OrderStatus {
    type Error = UnknownValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or(UnknownValue {
                what: "order status",
                value,
            })
    }
}

impl std::fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A call to another service that the order is waiting on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// seating: hold the seats (`order:{id}:reserve`).
    Reserve,
    /// payment: charge the total (`order:{id}:charge`).
    Charge,
    /// seating: sell the hold's seats to the order.
    Allocate,
    /// seating: let the hold go (decline, cancellation).
    Release,
    /// payment: give the money back (`order:{id}:refund`).
    Refund,
    /// seating: make a refunded order's seats available again.
    Return,
}

impl Step {
    pub const ALL: [Self; 6] = [
        Self::Reserve,
        Self::Charge,
        Self::Allocate,
        Self::Release,
        Self::Refund,
        Self::Return,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reserve => "reserve",
            Self::Charge => "charge",
            Self::Allocate => "allocate",
            Self::Release => "release",
            Self::Refund => "refund",
            Self::Return => "return",
        }
    }
}

impl TryFrom<String> for Step {
    type Error = UnknownValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or(UnknownValue {
                what: "saga step",
                value,
            })
    }
}

/// Why an order is being undone; a label of `orders_compensated_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compensation {
    Declined,
    CancelledByBuyer,
    CancelledByAdmin,
    EventCancelled,
    /// The charge succeeded but the hold had expired: the money goes back.
    HoldExpiredAfterCharge,
}

impl Compensation {
    pub const ALL: [Self; 5] = [
        Self::Declined,
        Self::CancelledByBuyer,
        Self::CancelledByAdmin,
        Self::EventCancelled,
        Self::HoldExpiredAfterCharge,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Declined => "declined",
            Self::CancelledByBuyer => "cancelled_by_buyer",
            Self::CancelledByAdmin => "cancelled_by_admin",
            Self::EventCancelled => "event_cancelled",
            Self::HoldExpiredAfterCharge => "hold_expired_after_charge",
        }
    }
}

impl TryFrom<String> for Compensation {
    type Error = UnknownValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .ok_or(UnknownValue {
                what: "compensation",
                value,
            })
    }
}

service_kit::text_column!(OrderStatus);
service_kit::text_column!(Step);
service_kit::text_column!(Compensation);

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Compensation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Subtotal, tax and total of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub subtotal: Money,
    pub tax: Money,
    pub total: Money,
}

impl Totals {
    /// From the seat prices: tax is 5 % of the subtotal, rounded half-up to the cent.
    pub fn of(prices: impl IntoIterator<Item = Money>) -> Option<Self> {
        let subtotal: Money = prices.into_iter().sum();
        let tax = subtotal.percent_half_up(TAX_PERCENT);
        Some(Self {
            subtotal,
            tax,
            total: subtotal.checked_add(tax)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap()
    }

    #[test]
    fn tax_is_five_percent_rounded_half_up() {
        let totals = Totals::of([money("10.10")]).unwrap();
        assert_eq!(totals.tax, money("0.51"), "0.505 rounds up");
        assert_eq!(totals.total, money("10.61"));
        let two = Totals::of([money("250.00"), money("12.50")]).unwrap();
        assert_eq!(two.subtotal, money("262.50"));
        assert_eq!(two.tax, money("13.13"), "13.125 rounds up");
        assert_eq!(two.total, money("275.63"));
        let small = Totals::of([money("0.10")]).unwrap();
        assert_eq!(small.tax, money("0.01"), "0.005 rounds up");
        let tiny = Totals::of([money("0.09")]).unwrap();
        assert_eq!(tiny.tax, money("0.00"), "0.0045 rounds down");
    }

    #[test]
    fn statuses_and_steps_read_strictly() {
        for status in OrderStatus::ALL {
            assert_eq!(
                OrderStatus::try_from(status.as_str().to_owned()).unwrap(),
                status
            );
        }
        let err = OrderStatus::try_from("SHIPPED".to_owned()).unwrap_err();
        assert!(err.to_string().contains("SHIPPED"));
        assert!(Step::try_from("teleport".to_owned()).is_err());
        assert_eq!(Step::try_from("refund".to_owned()).unwrap(), Step::Refund);
    }
}
