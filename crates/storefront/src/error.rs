//! The storefront's one error type: every failure becomes a page a person can act on (or a
//! redirect to the login), never a stack trace or a JSON problem.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;

use crate::client::ApiError;
use crate::render;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    /// Not signed in: to the login page, and back to `next` afterwards.
    #[error("login required")]
    LoginRequired { next: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("bad form: {0}")]
    BadForm(String),
    /// A form without the session's token (forged elsewhere, or an expired page).
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("internal: {0}")]
    Internal(String),
}

impl PageError {
    pub fn login_required(next: &str) -> Self {
        Self::LoginRequired {
            next: next.to_owned(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            Self::LoginRequired { next } => {
                let next = crate::pages::safe_next(next);
                let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
                return Redirect::to(&format!("/login?{query}")).into_response();
            }
            Self::Forbidden(why) => (StatusCode::FORBIDDEN, "Not for this account", why.clone()),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing at this address. It may have been an event that no longer exists.".into(),
            ),
            Self::BadForm(why) => (StatusCode::BAD_REQUEST, "Please check the form", why.clone()),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not sent from this shop's page, or the page is too old. Go back, reload the page and send it again.".into(),
            ),
            Self::Api(error) if error.status() == StatusCode::NOT_FOUND => (
                StatusCode::NOT_FOUND,
                "Not found",
                "We could not find what you asked for.".into(),
            ),
            Self::Api(error) if error.status() == StatusCode::UNAUTHORIZED => {
                return Redirect::to("/login").into_response();
            }
            Self::Api(error) => {
                let status = match error.status() {
                    s if s.is_server_error() => StatusCode::BAD_GATEWAY,
                    s => s,
                };
                (status, "Something went wrong", error.message())
            }
            Self::Internal(why) => {
                tracing::error!(error = %why, "page failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The shop could not show this page. Please try again.".into(),
                )
            }
        };
        let page = render::page(
            "error.html",
            None,
            context! { title => title, message => message, status => status.as_u16() },
        );
        page.with_status(status)
    }
}
