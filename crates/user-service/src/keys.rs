//! The Ed25519 key that signs access tokens: `JWT_SIGNING_KEY`, or one generated once and kept
//! in the `signing_key` table. The mechanism is the kit's ([`service_kit::signing`]).

use secrecy::SecretString;
use sqlx::PgPool;

pub use service_kit::signing::SigningKey;

/// The configured key, or the one in the database (created on first start).
pub async fn load(configured: Option<&SecretString>, pool: &PgPool) -> anyhow::Result<SigningKey> {
    service_kit::signing::load(configured, pool, "signing_key").await
}
