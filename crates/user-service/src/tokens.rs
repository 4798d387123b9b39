//! Access tokens (15 minutes, EdDSA JWT) and refresh tokens (opaque, 30 days, stored hashed).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use rand::RngCore;
use service_kit::auth::{AUDIENCE, Claims, ISSUER, Role, Scope};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::keys::SigningKey;

pub const ACCESS_TOKEN_SECONDS: i64 = 15 * 60;
pub const REFRESH_TOKEN_DAYS: i64 = 30;

/// A signed access token and its lifetime.
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

/// A user's access token.
pub fn access_token(
    key: &SigningKey,
    subject: &str,
    email: Option<&str>,
    role: Role,
) -> anyhow::Result<AccessToken> {
    sign(key, subject, email, role, &[])
}

/// A service client's token, carrying the scopes of the operations it may perform.
pub fn service_access_token(
    key: &SigningKey,
    client_id: &str,
    scopes: &[Scope],
) -> anyhow::Result<AccessToken> {
    sign(key, client_id, None, Role::Service, scopes)
}

fn sign(
    key: &SigningKey,
    subject: &str,
    email: Option<&str>,
    role: Role,
    scopes: &[Scope],
) -> anyhow::Result<AccessToken> {
    let now = Utc::now().timestamp();
    let claims = Claims {
        sub: subject.to_owned(),
        email: email.map(str::to_owned),
        role,
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
        iat: now,
        exp: now + ACCESS_TOKEN_SECONDS,
        jti: Uuid::now_v7().to_string(),
        scope: Scope::claim(scopes),
    };
    Ok(AccessToken {
        token: key.sign(&claims)?,
        expires_in: ACCESS_TOKEN_SECONDS,
    })
}

/// A new opaque refresh token: 256 random bits, base64url.
pub fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the database keeps of a refresh token.
pub fn refresh_token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
