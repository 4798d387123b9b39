//! What a service token may do: one scope per operation of the contract that only services (or
//! a service acting for any user) may perform.
//!
//! A token with `role: service` proves only that the caller is one of the fleet's clients. The
//! operations that move money, sell seats or read anybody's data also need a scope, which
//! user-service writes into the token (the `scope` claim, space-separated as in RFC 8693) from
//! the fleet's map: a client gets the scopes of the service it is
//! ([`crate::fleet::Service::grants`]), so catalog's token can push inventory and nothing else,
//! and only order-service's can charge, refund, sell and return.

use std::fmt;
use std::str::FromStr;

/// One operation a service token may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Read any user (`GET /v1/users/{id}`).
    UsersRead,
    /// Read events in any status, drafts included.
    CatalogRead,
    /// Push an event's seats (`PUT /v1/events/{id}/inventory`).
    SeatingInventory,
    /// Hold seats for any holder, read and release any hold.
    SeatingHolds,
    /// Sell a hold to an order and return sold seats (`allocate`, `return`).
    SeatingSell,
    /// Charge a card (`POST /v1/payments/charge`).
    PaymentsCharge,
    /// Refund any payment.
    PaymentsRefund,
    /// Read any payment.
    PaymentsRead,
    /// Read any order.
    OrdersRead,
    /// Read anybody's notifications.
    NotificationsRead,
}

impl Scope {
    pub const ALL: [Self; 10] = [
        Self::UsersRead,
        Self::CatalogRead,
        Self::SeatingInventory,
        Self::SeatingHolds,
        Self::SeatingSell,
        Self::PaymentsCharge,
        Self::PaymentsRefund,
        Self::PaymentsRead,
        Self::OrdersRead,
        Self::NotificationsRead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UsersRead => "users:read",
            Self::CatalogRead => "catalog:read",
            Self::SeatingInventory => "seating:inventory",
            Self::SeatingHolds => "seating:holds",
            Self::SeatingSell => "seating:sell",
            Self::PaymentsCharge => "payments:charge",
            Self::PaymentsRefund => "payments:refund",
            Self::PaymentsRead => "payments:read",
            Self::OrdersRead => "orders:read",
            Self::NotificationsRead => "notifications:read",
        }
    }

    /// The `scope` claim of a token granting `scopes`.
    pub fn claim(scopes: &[Self]) -> String {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The scopes a `scope` claim names; names this version does not know grant nothing.
    pub fn parse_claim(claim: &str) -> Vec<Self> {
        claim
            .split_ascii_whitespace()
            .filter_map(|name| name.parse().ok())
            .collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|scope| scope.as_str() == s)
            .ok_or_else(|| format!("unknown scope `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_round_trips_and_ignores_unknown_names() {
        let claim = Scope::claim(&[Scope::PaymentsCharge, Scope::SeatingSell]);
        assert_eq!(claim, "payments:charge seating:sell");
        assert_eq!(
            Scope::parse_claim(&format!("{claim} admin:everything")),
            [Scope::PaymentsCharge, Scope::SeatingSell]
        );
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
    }
}
