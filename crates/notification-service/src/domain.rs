//! Notifications as values: what kind of e-mail, and where it stands. No I/O here.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use service_kit::messages::types;
use utoipa::ToSchema;

/// A text column that holds a value outside its type: corrupt data, reported with the value
/// rather than read as some plausible default.
#[derive(Debug, thiserror::Error)]
#[error("unexpected {what} `{value}` in the database")]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
}

/// Which e-mail: one per `order.*` message type, each with its own templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum NotificationType {
    /// The receipt with the e-tickets.
    #[serde(rename = "order.confirmed")]
    OrderConfirmed,
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    #[serde(rename = "order.expired")]
    OrderExpired,
    #[serde(rename = "order.refunded")]
    OrderRefunded,
}

impl NotificationType {
    pub const ALL: [Self; 4] = [
        Self::OrderConfirmed,
        Self::OrderCancelled,
        Self::OrderExpired,
        Self::OrderRefunded,
    ];

    /// The message type, which is also how the notification's type is written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderConfirmed => types::ORDER_CONFIRMED,
            Self::OrderCancelled => types::ORDER_CANCELLED,
            Self::OrderExpired => types::ORDER_EXPIRED,
            Self::OrderRefunded => types::ORDER_REFUNDED,
        }
    }

    /// The notification a message type asks for; `None` for the types it does not act on.
    pub fn of_message(message_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == message_type)
    }

    /// The stem of its templates' file names (`receipt.html`, `receipt.txt`, ...).
    pub fn template(self) -> &'static str {
        match self {
            Self::OrderConfirmed => "receipt",
            Self::OrderCancelled => "cancelled",
            Self::OrderExpired => "expired",
            Self::OrderRefunded => "refunded",
        }
    }

    /// The e-mail's subject, naming the event. Plain text (a header, not HTML); lettre encodes
    /// it, and control characters are taken out first so a title cannot add a header line.
    pub fn subject(self, event_title: &str) -> String {
        let title: String = event_title
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let title = title.trim();
        match self {
            Self::OrderConfirmed => format!("Your tickets for {title}"),
            Self::OrderCancelled => format!("Your order for {title} was cancelled"),
            Self::OrderExpired => format!("Your reservation for {title} expired"),
            Self::OrderRefunded => format!("Your order for {title} was refunded"),
        }
    }
}

impl TryFrom<String> for NotificationType {
    type Error = UnknownValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::of_message(&value).ok_or(UnknownValue {
            what: "notification type",
            value,
        })
    }
}

service_kit::text_column!(NotificationType);

impl std::fmt::Display for NotificationType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a notification stands: `PENDING` until the mail server accepted it (`SENT`) or refused
/// it for good (`FAILED`). Both are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum NotificationStatus {
    Pending,
    Sent,
    Failed,
}

impl NotificationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Sent => "SENT",
            Self::Failed => "FAILED",
        }
    }
}

impl TryFrom<String> for NotificationStatus {
    type Error = UnknownValue;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "PENDING" => Ok(Self::Pending),
            "SENT" => Ok(Self::Sent),
            "FAILED" => Ok(Self::Failed),
            _ => Err(UnknownValue {
                what: "notification status",
                value,
            }),
        }
    }
}

service_kit::text_column!(NotificationStatus);

impl std::fmt::Display for NotificationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wait before the next attempt after `attempts` attempts failed: `first` doubled for each
/// failure after the first, capped at `max`.
pub fn backoff(first: Duration, max: Duration, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    first.saturating_mul(2u32.saturating_pow(exponent)).min(max)
}

/// The `Message-ID` of a notification's e-mail: derived from its id, so that the one resend a
/// crash can cause (after the server accepted the e-mail, before we recorded it) carries the same
/// id as the first, and a mail client or a support person recognises it.
pub fn message_id(notification_id: uuid::Uuid) -> String {
    format!("<{notification_id}@ticketing.notification>")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn back_off_starts_at_two_seconds_and_doubles_to_ten_minutes() {
        let (first, max) = (Duration::from_secs(2), Duration::from_secs(600));
        assert_eq!(backoff(first, max, 1), Duration::from_secs(2));
        assert_eq!(backoff(first, max, 2), Duration::from_secs(4));
        assert_eq!(backoff(first, max, 5), Duration::from_secs(32));
        assert_eq!(backoff(first, max, 9), Duration::from_secs(512));
        assert_eq!(backoff(first, max, 10), max);
        assert_eq!(backoff(first, max, i32::MAX), max);
    }

    #[test]
    fn each_order_message_type_is_a_notification_type_and_others_are_not() {
        for t in NotificationType::ALL {
            assert_eq!(NotificationType::of_message(t.as_str()), Some(t));
            assert_eq!(
                NotificationType::try_from(t.as_str().to_owned()).unwrap(),
                t
            );
        }
        assert_eq!(NotificationType::of_message("event.cancelled"), None);
        assert!(NotificationStatus::try_from("SENDING".to_owned()).is_err());
    }

    #[test]
    fn a_subject_names_the_event_on_one_line() {
        let subject = NotificationType::OrderConfirmed.subject("Fado\r\nBcc: x@evil.example");
        assert_eq!(subject, "Your tickets for Fado  Bcc: x@evil.example");
    }
}
