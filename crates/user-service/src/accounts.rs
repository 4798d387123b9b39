//! Accounts: registration, profiles, roles, and the admin created at start-up.

use anyhow::Context;
use secrecy::ExposeSecret;
use service_kit::Problem;
use service_kit::auth::{Caller, Role, Scope};
use sqlx::PgPool;
use uuid::Uuid;

use crate::api::{NewAccount, ProfileChanges, RoleRequest};
use crate::config::AdminBootstrap;
use crate::db::users::{self, NewUser, UserRow};
use crate::domain::{Email, Password, Phone, UserName};
use crate::error::{ApiError, ApiResult, UserError};
use crate::passwords;
use crate::state::AppState;

/// Creates a customer account; 409 when the e-mail is taken in any letter case.
#[tracing::instrument(skip_all)]
pub async fn register(state: &AppState, account: NewAccount) -> ApiResult<UserRow> {
    let password_hash = passwords::hash(account.password).await?;
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
    let row = users::set_role(&state.pool, id, role)
        .await?
        .ok_or(UserError::UserNotFound)?;
    tracing::info!(user_id = %id, %role, by = %caller.subject, "role changed");
    Ok(row)
}

fn own_id(caller: &Caller) -> ApiResult<Uuid> {
    caller.user_id().ok_or_else(|| {
        ApiError::Problem(
            Problem::forbidden().with_detail("A service token does not belong to a user."),
        )
    })
}

/// Creates the configured admin, or gives the existing account of that e-mail the admin role
/// and the configured password. Refuses to start on an invalid e-mail or password.
pub async fn bootstrap_admin(pool: &PgPool, admin: &AdminBootstrap) -> anyhow::Result<()> {
    let email = Email::parse(&admin.email).map_err(|e| anyhow::anyhow!("ADMIN_EMAIL {e}"))?;
    let password = Password::parse(admin.password.expose_secret().to_owned())
        .map_err(|e| anyhow::anyhow!("ADMIN_PASSWORD {e}"))?;
    let hash = passwords::hash(password).await?;
    let row = users::upsert_admin(pool, &email, &hash)
        .await
        .context("creating the admin account")?;
    tracing::info!(user_id = %row.id, "admin account ready");
    Ok(())
}
