//! Sessions: who is signed in, their tokens and the form token, in one encrypted cookie.
//!
//! The cookie is encrypted and authenticated (AES-GCM, `PrivateCookieJar`), `HttpOnly`,
//! `SameSite=Lax` and `Secure` when configured: the browser carries the tokens without being able
//! to read them, and no database is needed (every replica reads every cookie with the same key).
//!
//! [`layer`] runs around every page: it opens the session (a fresh one with a new form token for
//! a first visit), refreshes an access token about to expire, refuses a `POST` whose `csrf`
//! field does not match the session's, and writes the cookie back when the page changed it.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::client::{ApiError, Tokens};
use crate::error::PageError;
use crate::state::AppState;

const COOKIE: &str = "storefront_session";
/// An access token this close to its expiry is refreshed before the page calls a service.
const REFRESH_MARGIN_SECONDS: i64 = 30;
/// A sign-in lasts as long as the refresh token would (user-service rotates it); the cookie no
/// longer than a week.
const COOKIE_DAYS: i64 = 7;
/// Form bodies are small; anything bigger is not one of ours.
const FORM_LIMIT: usize = 64 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The form token every `POST` must carry back.
    pub csrf: String,
    #[serde(default)]
    pub account: Option<Account>,
}

/// The signed-in person and their tokens (never sent to the browser in the clear).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub role: String,
    access_token: String,
    refresh_token: String,
    /// Seconds since the epoch.
    expires_at: i64,
}

impl Account {
    fn from_tokens(tokens: Tokens) -> Self {
        Self {
            id: tokens.user.id,
            name: tokens.user.name,
            email: tokens.user.email,
            role: tokens.user.role,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            expires_at: chrono::Utc::now().timestamp() + tokens.expires_in,
        }
    }

    pub fn is_organizer(&self) -> bool {
        matches!(self.role.as_str(), "organizer" | "admin")
    }
}

impl Session {
    fn fresh() -> Self {
        Self {
            csrf: random_token(),
            account: None,
        }
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

struct Shared {
    session: Session,
    changed: bool,
}

/// The session of this request, as handlers see it.
#[derive(Clone)]
pub struct Visit(Arc<Mutex<Shared>>);

impl Visit {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A handler that panicked while holding it leaves a session that is still whole.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn csrf(&self) -> String {
        self.lock().session.csrf.clone()
    }

    pub fn account(&self) -> Option<Account> {
        self.lock().session.account.clone()
    }

    /// The access token when someone is signed in.
    pub fn signed_in_token(&self) -> Option<String> {
        self.lock()
            .session
            .account
            .as_ref()
            .map(|a| a.access_token.clone())
    }

    /// The access token, or a redirect to the login page that comes back to `next`.
    pub fn token(&self, next: &str) -> Result<String, PageError> {
        self.account()
            .map(|a| a.access_token)
            .ok_or_else(|| PageError::login_required(next))
    }

    /// The signed-in organizer (or admin), or why not.
    pub fn organizer(&self, next: &str) -> Result<(Account, String), PageError> {
        let account = self
            .account()
            .ok_or_else(|| PageError::login_required(next))?;
        if !account.is_organizer() {
            return Err(PageError::Forbidden(
                "This page is for organizers. Ask an administrator to make your account an organizer, then log in again.".into(),
            ));
        }
        let token = account.access_token.clone();
        Ok((account, token))
    }

    /// Signs in; a new form token too, so that one fixed before the login is worth nothing after.
    pub fn sign_in(&self, tokens: Tokens) {
        let mut shared = self.lock();
        shared.session.account = Some(Account::from_tokens(tokens));
        shared.session.csrf = random_token();
        shared.changed = true;
    }

    /// Signs out; returns the tokens to revoke.
    pub fn sign_out(&self) -> Option<(String, String)> {
        let mut shared = self.lock();
        let account = shared.session.account.take();
        shared.session.csrf = random_token();
        shared.changed = true;
        account.map(|a| (a.access_token, a.refresh_token))
    }
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, PageError> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or_else(|| PageError::Internal("a page outside the session layer".into()))
    }
}

/// The middleware of every page (see the module's documentation).
pub async fn layer(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let jar = PrivateCookieJar::from_headers(&parts.headers, state.cookie_key.clone());
    let stored = jar
        .get(COOKIE)
        .and_then(|c| serde_json::from_str::<Session>(c.value()).ok());
    let changed = stored.is_none();
    let mut session = stored.unwrap_or_else(Session::fresh);

    let body = if parts.method == Method::POST {
        let Ok(bytes) = to_bytes(body, FORM_LIMIT).await else {
            return PageError::BadForm("The form is too large.".into()).into_response();
        };
        if !csrf_matches(&bytes, &session.csrf) || changed {
            tracing::warn!(path = %parts.uri.path(), "form refused: missing or wrong CSRF token");
            return PageError::Csrf.into_response();
        }
        Body::from(bytes)
    } else {
        body
    };

    let refreshed = refresh_if_due(&state, &mut session).await;
    let visit = Visit(Arc::new(Mutex::new(Shared {
        session,
        changed: changed || refreshed,
    })));
    parts.extensions.insert(visit.clone());
    let response = next.run(Request::from_parts(parts, body)).await;

    let shared = visit.lock();
    if !shared.changed {
        return response;
    }
    let Ok(value) = serde_json::to_string(&shared.session) else {
        return response;
    };
    let cookie = Cookie::build((COOKIE, value))
        .path("/")
        .http_only(true)
        .secure(state.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::days(COOKIE_DAYS))
        .build();
    (jar.add(cookie), response).into_response()
}

/// Refreshes the access token when it is about to expire. Returns whether the session changed
/// (new tokens, or signed out because the refresh token is no longer good).
async fn refresh_if_due(state: &AppState, session: &mut Session) -> bool {
    let Some(account) = &session.account else {
        return false;
    };
    if account.expires_at - REFRESH_MARGIN_SECONDS > chrono::Utc::now().timestamp() {
        return false;
    }
    match state.fleet.refresh(&account.refresh_token).await {
        Ok(tokens) => {
            session.account = Some(Account::from_tokens(tokens));
            true
        }
        Err(ApiError::Problem { status, .. }) if status == StatusCode::UNAUTHORIZED => {
            session.account = None;
            true
        }
        // user-service is away: keep the session; the page's own call will say what it can.
        Err(_) => false,
    }
}

/// The form's `csrf` field against the session's token, in constant time. The token is
/// URL-safe, so a correct field is never percent-encoded.
fn csrf_matches(form: &[u8], expected: &str) -> bool {
    form.split(|&b| b == b'&')
        .filter_map(|pair| pair.strip_prefix(b"csrf="))
        .any(|given| given.ct_eq(expected.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_token_must_match_exactly() {
        let token = random_token();
        let form = format!("seat=1&csrf={token}&seat=2");
        assert!(csrf_matches(form.as_bytes(), &token));
        assert!(!csrf_matches(b"seat=1", &token));
        assert!(!csrf_matches(format!("csrf={token}x").as_bytes(), &token));
        assert!(!csrf_matches(b"csrf=", &token));
        assert!(!csrf_matches(format!("xcsrf={token}").as_bytes(), &token));
    }

    #[test]
    fn tokens_are_long_and_different() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}
