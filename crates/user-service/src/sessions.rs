//! Sessions: login with throttling, refresh-token rotation with reuse detection, logout, and
//! service tokens for the other services.

use std::net::IpAddr;

use chrono::Utc;
use secrecy::ExposeSecret;
use service_kit::fleet;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::db::users::UserRow;
use crate::db::{login_failures, refresh_tokens, users};
use crate::domain::{Email, Password, email_key};
use crate::error::{ApiResult, UserError};
use crate::passwords;
use crate::state::AppState;
use crate::tokens::{self, AccessToken, REFRESH_TOKEN_DAYS};

/// What a login or a refresh hands out.
pub struct Session {
    pub access: AccessToken,
    pub refresh_token: String,
    pub user: UserRow,
}

/// Logs in; one 401 for an unknown e-mail and a wrong password alike, 429 once too many
/// failures were seen for the e-mail or from the address (enforced by the database: see below).
#[tracing::instrument(skip_all)]
pub async fn login(
    state: &AppState,
    email: &str,
    password: String,
    address: IpAddr,
) -> ApiResult<Session> {
    // The throttle's key: no address is longer than 254 characters, so a longer one is cut
    // there rather than stored at any length the caller likes.
    let email = email_key(&email.chars().take(Email::MAX_CHARS + 1).collect::<String>());
    let address = address.to_string();
    // The attempt is written down before it is counted: of any number of concurrent attempts,
    // only those among the first `limit` written can pass, so a burst cannot outrun the limit.
    // A refused attempt is forgotten; a failed one stays as the failure; a success clears them.
    let attempt = login_failures::record(&state.pool, &email, &address).await?;
    if let Err(throttled) = refuse_if_throttled(state, &email, &address).await {
        login_failures::forget(&state.pool, attempt).await?;
        return Err(throttled);
    }

    let user = users::find_by_email_key(&state.pool, &email).await?;
    // No password (or e-mail) that long was ever accepted; refuse it without spending a hash.
    let plausible =
        password.chars().count() <= Password::MAX_CHARS && email.len() <= Email::MAX_CHARS;
    let matches = plausible
        && passwords::verify(password, user.as_ref().map(|u| u.password_hash.clone())).await?;
    let Some(user) = user.filter(|_| matches) else {
        state.metrics.logins.with_label_values(&["failure"]).inc();
        return Err(UserError::InvalidCredentials.into());
    };
    login_failures::clear_email(&state.pool, &email).await?;
    state.metrics.logins.with_label_values(&["success"]).inc();
    tracing::info!(user_id = %user.id, "logged in");
    start_session(state, user, Uuid::now_v7()).await
}

async fn refuse_if_throttled(state: &AppState, email: &str, address: &str) -> ApiResult<()> {
    let limits = state.throttle;
    // The counts include the attempt being made.
    let recent = login_failures::recent(&state.pool, email, address, limits.window).await?;
    let window = limits.window.as_secs_f64();
    let mut wait: Option<f64> = None;
    if recent.by_email > limits.max_failures_per_email {
        wait = Some(window - recent.oldest_email_age.unwrap_or(0.0));
    }
    if recent.by_address > limits.max_failures_per_address {
        let by_address = window - recent.oldest_address_age.unwrap_or(0.0);
        wait = Some(wait.map_or(by_address, |w| w.max(by_address)));
    }
    match wait {
        Some(seconds) => {
            state.metrics.logins.with_label_values(&["throttled"]).inc();
            tracing::warn!(%address, "login throttled");
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // clamped to >= 1
            let retry_after_seconds = seconds.ceil().max(1.0) as u64;
            Err(UserError::Throttled {
                retry_after_seconds,
            }
            .into())
        }
        None => Ok(()),
    }
}

async fn start_session(state: &AppState, user: UserRow, family_id: Uuid) -> ApiResult<Session> {
    let refresh_token = issue_refresh_token(&state.pool, family_id, user.id).await?;
    Ok(Session {
        access: tokens::access_token(
            &state.key,
            &user.id.to_string(),
            Some(&user.email),
            user.role,
        )?,
        refresh_token,
        user,
    })
}

async fn issue_refresh_token(
    db: impl sqlx::PgExecutor<'_>,
    family_id: Uuid,
    user_id: Uuid,
) -> ApiResult<String> {
    let token = tokens::new_refresh_token();
    let expires_at = Utc::now() + chrono::Duration::days(REFRESH_TOKEN_DAYS);
    refresh_tokens::insert(
        db,
        family_id,
        user_id,
        &tokens::refresh_token_hash(&token),
        expires_at,
    )
    .await?;
    Ok(token)
}

/// Trades a refresh token for a new pair. The old token stops working; presenting it again
/// revokes every token of its family (it was stolen, or the client is replaying).
#[tracing::instrument(skip_all)]
pub async fn refresh(state: &AppState, token: &str) -> ApiResult<Session> {
    let hash = tokens::refresh_token_hash(token);
    let mut tx = state.pool.begin().await?;
    let Some((family_id, user_id)) = refresh_tokens::consume(&mut *tx, &hash).await? else {
        if let Some(family_id) = refresh_tokens::family_of_used(&mut *tx, &hash).await? {
            let revoked = refresh_tokens::revoke_family(&mut *tx, family_id).await?;
            tx.commit().await?;
            tracing::warn!(%family_id, revoked, "refresh token reused: its family is revoked");
        }
        return Err(UserError::InvalidRefreshToken.into());
    };
    let user = users::find(&mut *tx, user_id)
        .await?
        .ok_or(UserError::InvalidRefreshToken)?;
    let refresh_token = issue_refresh_token(&mut *tx, family_id, user_id).await?;
    tx.commit().await?;
    Ok(Session {
        access: tokens::access_token(
            &state.key,
            &user.id.to_string(),
            Some(&user.email),
            user.role,
        )?,
        refresh_token,
        user,
    })
}

/// Ends the session the refresh token belongs to (its whole family). Idempotent: an unknown or
/// already revoked token is not an error.
pub async fn logout(state: &AppState, user_id: Uuid, token: &str) -> ApiResult<()> {
    let hash = tokens::refresh_token_hash(token);
    if let Some(family_id) = refresh_tokens::family_of(&state.pool, &hash, user_id).await? {
        refresh_tokens::revoke_family(&state.pool, family_id).await?;
        tracing::info!(%user_id, "logged out");
    }
    Ok(())
}

/// A service token for a configured client (client-credentials grant).
pub fn service_token(state: &AppState, client_id: &str, secret: &str) -> ApiResult<AccessToken> {
    // Compare digests in constant time, so neither the secret's content nor its length leaks
    // through timing; every configured client is compared.
    let offered = Sha256::digest(secret.as_bytes());
    let mut known = false;
    for client in state.clients.iter() {
        let expected = Sha256::digest(client.secret.expose_secret().as_bytes());
        let same_secret: bool = offered.ct_eq(&expected).into();
        known |= client.id == client_id && same_secret;
    }
    if !known {
        tracing::warn!(client_id, "service token refused");
        return Err(UserError::InvalidClient.into());
    }
    // A client is one of the fleet's services (its id is the service's name), and may do what
    // the contract has that service do; any other client id gets a token with no scope.
    let scopes = fleet::Service::from_name(client_id).map_or(&[][..], fleet::Service::grants);
    Ok(tokens::service_access_token(&state.key, client_id, scopes)?)
}
