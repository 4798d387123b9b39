//! Ed25519 signing keys kept by a service: user-service's for access tokens, order-service's for
//! ticket payloads. The public half is published as a JWK.
//!
//! A configured key (PKCS#8 PEM from a variable) wins; otherwise the first instance to start
//! generates a key and stores it in a one-row table of the service's database, and every instance
//! uses that one. The key id is the RFC 7638 thumbprint of the public key, so the same key always
//! has the same `kid`.

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{DecodingKey, EncodingKey, Header};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    /// The raw 32-byte public key.
    public: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// From a PKCS#8 PEM (`openssl genpkey -algorithm ed25519` writes one).
    pub fn from_pem(pem_text: &str) -> anyhow::Result<Self> {
        let pem = pem::parse(pem_text).context("the signing key is not PEM")?;
        Self::from_pkcs8_der(pem.contents())
    }

    fn from_pkcs8_der(der: &[u8]) -> anyhow::Result<Self> {
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|e| anyhow!("not an Ed25519 PKCS#8 private key: {e}"))?;
        let public = pair.public_key().as_ref().to_vec();
        Ok(Self {
            kid: thumbprint(&public),
            encoding: EncodingKey::from_ed_der(der),
            public,
        })
    }

    /// A new random key and its PEM, for storing.
    pub fn generate() -> anyhow::Result<(Self, String)> {
        let document = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|_| anyhow!("the system random generator failed"))?;
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", document.as_ref().to_vec()));
        Ok((Self::from_pkcs8_der(document.as_ref())?, pem))
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn decoding_key(&self) -> DecodingKey {
        DecodingKey::from_ed_der(&self.public)
    }

    /// The public key as a JWK for `/.well-known/jwks.json`.
    pub fn jwk(&self) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(&self.public),
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }

    pub fn sign(&self, claims: &impl Serialize) -> anyhow::Result<String> {
        let mut header = Header::new(crate::auth::ALGORITHM);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).context("signing a token")
    }
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key (members in lexicographic order).
fn thumbprint(public: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(public)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The configured key, or the one in `table` (created on first start). `table` is a constant of
/// the service (never input): a one-row table with columns `singleton` (unique), `kid` and
/// `private_key_pem`.
pub async fn load(
    configured: Option<&SecretString>,
    pool: &PgPool,
    table: &'static str,
) -> anyhow::Result<SigningKey> {
    if let Some(pem) = configured {
        return SigningKey::from_pem(pem.expose_secret());
    }
    let (candidate, pem) = SigningKey::generate()?;
    // Whoever inserts first wins; everyone then reads the winner.
    sqlx::query(&format!(
        "INSERT INTO {table} (kid, private_key_pem) VALUES ($1, $2)
         ON CONFLICT (singleton) DO NOTHING"
    ))
    .bind(candidate.kid())
    .bind(&pem)
    .execute(pool)
    .await
    .context("storing the signing key")?;
    let stored: String = sqlx::query_scalar(&format!("SELECT private_key_pem FROM {table}"))
        .fetch_one(pool)
        .await
        .context("reading the signing key")?;
    SigningKey::from_pem(&stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_survives_its_pem() {
        let (key, pem) = SigningKey::generate().unwrap();
        let again = SigningKey::from_pem(&pem).unwrap();
        assert_eq!(key.kid(), again.kid());
        assert_eq!(key.kid().len(), 43, "base64url of a SHA-256 digest");
    }

    #[test]
    fn the_jwk_carries_the_public_key_and_kid() {
        let (key, _) = SigningKey::generate().unwrap();
        let jwk = key.jwk();
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["kid"], key.kid());
        assert_eq!(
            URL_SAFE_NO_PAD
                .decode(jwk["x"].as_str().unwrap())
                .unwrap()
                .len(),
            32
        );
    }

    #[test]
    fn garbage_is_not_a_key() {
        assert!(SigningKey::from_pem("not a pem").is_err());
        let rsa_like = pem::encode(&pem::Pem::new("PRIVATE KEY", vec![1, 2, 3]));
        assert!(SigningKey::from_pem(&rsa_like).is_err());
    }
}
