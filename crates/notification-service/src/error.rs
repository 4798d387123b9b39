//! notification-service's own errors and their problem answers; the kit's
//! [`service_kit::error`] adds invalid fields, problems from elsewhere and internal errors.

use service_kit::Problem;
use service_kit::error::ServiceError;

#[derive(Debug)]
pub enum NotificationError {
    /// 404: no such notification, or not one the caller may see.
    NotFound,
    /// 403: a user asked for another user's notifications.
    OthersNotifications,
}

service_kit::service_error!(NotificationError);

impl ServiceError for NotificationError {
    fn problem(self) -> Problem {
        match self {
            Self::NotFound => Problem::not_found("notification"),
            Self::OthersNotifications => Problem::forbidden().with_detail(
                "A user lists only their own notifications; admins and services anyone's.",
            ),
        }
    }
}
