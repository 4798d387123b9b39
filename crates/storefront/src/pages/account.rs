//! Register, log in, log out. The tokens user-service answers go into the encrypted session
//! cookie; the browser never sees them.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::Form;
use minijinja::context;
use serde::{Deserialize, Serialize};

use crate::client::ApiError;
use crate::error::PageError;
use crate::pages::safe_next;
use crate::render;
use crate::session::Visit;
use crate::state::AppState;

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

pub async fn login_form(visit: Visit, query: Result<Query<NextQuery>, QueryRejection>) -> Response {
    let next = query.map(|Query(q)| q.next).unwrap_or_default();
    render::page(
        "login.html",
        Some(&visit),
        context! { next => safe_next(&next), email => "" },
    )
    .into_response()
}

#[derive(Deserialize, Serialize)]
pub struct LoginForm {
    email: String,
    #[serde(skip_serializing)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn login(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<LoginForm>,
) -> Result<Response, PageError> {
    match state.fleet.login(form.email.trim(), &form.password).await {
        Ok(tokens) => {
            visit.sign_in(tokens);
            Ok(Redirect::to(&safe_next(&form.next)).into_response())
        }
        Err(e) if e.status().is_client_error() => {
            let problem = if e.status() == StatusCode::UNAUTHORIZED {
                "Wrong e-mail or password.".to_owned()
            } else {
                e.message()
            };
            let html = render::page(
                "login.html",
                Some(&visit),
                context! { next => safe_next(&form.next), email => form.email, problem => problem },
            );
            Ok(html.with_status(e.status()))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn register_form(
    visit: Visit,
    query: Result<Query<NextQuery>, QueryRejection>,
) -> Response {
    let next = query.map(|Query(q)| q.next).unwrap_or_default();
    render::page(
        "register.html",
        Some(&visit),
        context! { next => safe_next(&next) },
    )
    .into_response()
}

#[derive(Deserialize, Serialize)]
pub struct RegisterForm {
    name: String,
    email: String,
    #[serde(skip_serializing)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Creates the account, then logs in with it.
pub async fn register(
    State(state): State<AppState>,
    visit: Visit,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PageError> {
    let created = state
        .fleet
        .register(form.name.trim(), form.email.trim(), &form.password)
        .await;
    if let Err(e) = created {
        if !e.status().is_client_error() {
            return Err(e.into());
        }
        return Ok(refused_registration(&visit, &form, &e));
    }
    let tokens = state.fleet.login(form.email.trim(), &form.password).await?;
    visit.sign_in(tokens);
    Ok(Redirect::to(&safe_next(&form.next)).into_response())
}

fn refused_registration(visit: &Visit, form: &RegisterForm, error: &ApiError) -> Response {
    let problem = if error.status() == StatusCode::CONFLICT {
        "An account with this e-mail already exists. Log in instead?".to_owned()
    } else {
        error.message()
    };
    let html = render::page(
        "register.html",
        Some(visit),
        context! {
            form => form,
            next => safe_next(&form.next),
            problem => problem,
            errors => error.field_errors(),
        },
    );
    html.with_status(error.status())
}

/// Signs out here at once, and revokes the refresh token at user-service (best effort: the
/// cookie no longer holds it either way).
pub async fn logout(State(state): State<AppState>, visit: Visit) -> Response {
    if let Some((access, refresh)) = visit.sign_out()
        && let Err(e) = state.fleet.logout(&access, &refresh).await
    {
        tracing::info!(error = %e, "logout: the refresh token could not be revoked");
    }
    Redirect::to("/").into_response()
}
