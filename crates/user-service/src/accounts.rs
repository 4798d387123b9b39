//! Accounts: registration, profiles, roles, and the admin created at start-up.

use anyhow::Context;
use secrecy::ExposeSecret;
use service_kit::Problem;
use service_kit::auth::{Caller, Role, Scope};
use sqlx::PgPool;
use uuid::Uuid;

use std::net::IpAddr;

use crate::api::{ProfileChanges, RegisterRequest, RoleRequest};
use crate::config::AdminBootstrap;
use crate::db::refresh_tokens;
use crate::db::users::{self, NewUser, UserRow};
use crate::domain::{Email, Password, Phone, UserName};
use crate::error::{ApiError, ApiResult, UserError};
use crate::passwords::{self, Purpose};
use crate::state::AppState;

/// Creates a customer account; 409 when the e-mail is taken in any letter case. Throttled per
/// client address, and checked for a taken e-mail before any password is hashed: hashing is
/// the expensive part, and an anonymous caller must not be able to make us do it at will.
#[tracing::instrument(skip_all)]
pub async fn register(
    state: &AppState,
    address: IpAddr,
    request: RegisterRequest,
) -> ApiResult<UserRow> {
    if let Some(limit) = &state.registrations {
        limit.check(&address)?;
    }
    let account = request.validate()?;
    if users::find_by_email_key(&state.pool, &account.email.key())
        .await?
        .is_some()
    {
        return Err(UserError::EmailTaken.into());
    }
    let password_hash = passwords::hash(Purpose::Registration, account.password).await?;
    let row = users::insert(
        &state.pool,
        &NewUser {
            name: account.name.as_str(),
            email: &account.email,
            phone: account.phone.as_ref().map(Phone::as_str),
            role: Role::Customer,
            password_hash: &password_hash,
        },
    )
    .await?;
    state.metrics.registrations.inc();
    tracing::info!(user_id = %row.id, "user registered");
    Ok(row)
}

/// The user `id`, if the caller may see it (themselves, an admin, a service granted `users:read`);
/// 404 otherwise so
/// that ids of other accounts cannot be probed.
pub async fn get(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<UserRow> {
    if !caller.may_act_for(id, Scope::UsersRead) {
        return Err(UserError::UserNotFound.into());
    }
    users::find(&state.pool, id)
        .await?
        .ok_or_else(|| UserError::UserNotFound.into())
}

/// The caller's own account; a service token has none.
pub async fn me(state: &AppState, caller: &Caller) -> ApiResult<UserRow> {
    let id = own_id(caller)?;
    users::find(&state.pool, id)
        .await?
        .ok_or_else(|| UserError::UserNotFound.into())
}

pub async fn update_me(
    state: &AppState,
    caller: &Caller,
    changes: ProfileChanges,
) -> ApiResult<UserRow> {
    let id = own_id(caller)?;
    let phone = changes
        .phone
        .as_ref()
        .map(|p| p.as_ref().map(Phone::as_str));
    users::update_profile(
        &state.pool,
        id,
        changes.name.as_ref().map(UserName::as_str),
        phone,
    )
    .await?
    .ok_or_else(|| UserError::UserNotFound.into())
}

/// Admins only.
pub async fn set_role(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    request: &RoleRequest,
) -> ApiResult<UserRow> {
    // Belt and braces: the route's extractor has already refused non-admins, before the body.
    caller.require(&[Role::Admin])?;
    let role = request.validate()?;
    let mut tx = state.pool.begin().await?;
    let (row, previous) = users::set_role(&mut tx, id, role)
        .await?
        .ok_or(UserError::UserNotFound)?;
    if previous != role {
        // A session opened under the old role must not keep minting tokens of it (nor, after a
        // demotion, of the higher one): the user logs in again.
        let revoked = refresh_tokens::revoke_all_of(&mut *tx, id).await?;
        tracing::info!(user_id = %id, %role, %previous, revoked, by = %caller.subject, "role changed; sessions ended");
    }
    tx.commit().await?;
    Ok(row)
}

fn own_id(caller: &Caller) -> ApiResult<Uuid> {
    caller.user_id().ok_or_else(|| {
        ApiError::Problem(
            Problem::forbidden().with_detail("A service token does not belong to a user."),
        )
    })
}

/// Creates the configured admin, or brings the existing admin account of that e-mail to the
/// configured password. Refuses to start on an invalid e-mail or password, and when the e-mail
/// belongs to an account that is not an admin: whoever registered that address first (before
/// the operator set `ADMIN_EMAIL`, say) must not become admin by a restart. The operator who
/// does mean to promote it says so with `ADMIN_PROMOTE_EXISTING=true`. A changed password or
/// role ends the account's sessions (its refresh tokens).
pub async fn bootstrap_admin(pool: &PgPool, admin: &AdminBootstrap) -> anyhow::Result<()> {
    let email = Email::parse(&admin.email).map_err(|e| anyhow::anyhow!("ADMIN_EMAIL {e}"))?;
    let password = Password::parse(admin.password.expose_secret().to_owned())
        .map_err(|e| anyhow::anyhow!("ADMIN_PASSWORD {e}"))?;
    let existing = users::find_by_email_key(pool, &email.key()).await?;
    if let Some(user) = &existing {
        if user.role != Role::Admin && !admin.promote_existing {
            anyhow::bail!(
                "ADMIN_EMAIL names an existing {} account ({}), which is not promoted to admin at \
                 start-up; set ADMIN_PROMOTE_EXISTING=true if that account is yours, or choose \
                 another ADMIN_EMAIL",
                user.role,
                user.id
            );
        }
        let same_password = passwords::verify(
            admin.password.expose_secret().to_owned(),
            Some(user.password_hash.clone()),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        if user.role == Role::Admin && same_password {
            tracing::info!(user_id = %user.id, "admin account ready");
            return Ok(());
        }
    }
    let hash = passwords::hash(Purpose::Setup, password)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = pool.begin().await?;
    let row = users::upsert_admin(&mut *tx, &email, &hash)
        .await
        .context("creating the admin account")?;
    let revoked = refresh_tokens::revoke_all_of(&mut *tx, row.id).await?;
    tx.commit().await?;
    tracing::info!(user_id = %row.id, revoked, promoted = existing.is_some_and(|u| u.role != Role::Admin), "admin account ready");
    Ok(())
}
