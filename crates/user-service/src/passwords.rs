//! Password hashing with argon2id at the OWASP parameters (19 MiB, 2 passes, 1 lane), on the
//! blocking pool: a hash takes tens of milliseconds of CPU that must not stall the async workers.

use std::sync::LazyLock;

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use service_kit::telemetry::spawn_blocking_in_span;

use crate::domain::Password;

/// OWASP Password Storage Cheat Sheet, argon2id option 2: m=19456 KiB, t=2, p=1.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified when the e-mail is unknown so that an unknown
/// e-mail takes as long to refuse as a wrong password.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hasher()
        .hash_password(
            b"no account has this password",
            &SaltString::generate(&mut OsRng),
        )
        .expect("hashing a constant succeeds")
        .to_string()
});

/// The PHC string of a new password.
pub async fn hash(password: Password) -> anyhow::Result<String> {
    spawn_blocking_in_span(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
    })
    .await
    .context("hashing task failed")?
}

/// Whether `candidate` matches the stored hash; with `None` (unknown user), spends the same
/// time and answers false.
pub async fn verify(candidate: String, stored: Option<String>) -> anyhow::Result<bool> {
    spawn_blocking_in_span(move || {
        let phc = stored.as_deref().unwrap_or(DUMMY_HASH.as_str());
        let parsed = PasswordHash::new(phc).map_err(|e| anyhow::anyhow!("bad stored hash: {e}"))?;
        let matches = hasher()
            .verify_password(candidate.as_bytes(), &parsed)
            .is_ok();
        Ok(matches && stored.is_some())
    })
    .await
    .context("verification task failed")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let password = Password::parse("correct horse battery".into()).unwrap();
        let phc = hash(password).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify("correct horse battery".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("wrong horse battery".into(), Some(phc))
                .await
                .unwrap()
        );
        assert!(!verify("anything at all".into(), None).await.unwrap());
    }
}
