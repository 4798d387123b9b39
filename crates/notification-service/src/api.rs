//! The JSON shapes of notification-service's API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::paging::Paging;
use service_kit::problem::FieldError;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::db::notifications::NotificationRow;
use crate::domain::{NotificationStatus, NotificationType};

/// The only channel there is.
pub const CHANNEL_EMAIL: &str = "email";

/// `GET /v1/notifications` filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// A user's notifications: a user may name only themself; admins and services anyone.
    pub user_id: Option<Uuid>,
    /// An order's notifications (within what the caller may see).
    pub order_id: Option<Uuid>,
    pub page: Option<i64>,
    pub limit: Option<i64>,
}

impl NotificationQuery {
    pub fn paging(&self) -> Result<Paging, Vec<FieldError>> {
        Paging::parse(self.page, self.limit)
    }
}

/// A notification as the contract shows it, with the last failure's reason.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationView {
    pub id: Uuid,
    pub user_id: Uuid,
    pub order_id: Uuid,
    #[schema(example = "email")]
    pub channel: String,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    /// The buyer's e-mail address.
    pub recipient: String,
    pub subject: String,
    pub status: NotificationStatus,
    /// Attempts begun so far.
    pub attempts: i32,
    /// The server's reason of a FAILED notification, or the error a PENDING one is waiting out.
    pub last_error: Option<String>,
    /// When the next attempt is due (PENDING only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<NotificationRow> for NotificationView {
    fn from(row: NotificationRow) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            order_id: row.order_id,
            channel: CHANNEL_EMAIL.to_owned(),
            kind: row.kind,
            recipient: row.recipient,
            subject: row.subject,
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error,
            next_attempt_at: (row.status == NotificationStatus::Pending)
                .then_some(row.next_attempt_at),
            sent_at: row.sent_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}
