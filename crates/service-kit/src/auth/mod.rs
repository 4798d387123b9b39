//! Who is calling: JWT verification, the caller extractor and role guards.
//!
//! user-service signs EdDSA (Ed25519) access tokens; every service verifies them against its JWKS
//! ([`jwks::JwksCache`]), with the algorithm pinned and `exp`, `iss` and `aud` checked. Handlers
//! take a [`Caller`] argument and ask it for the roles they need. Services call each other with a
//! service token ([`service_token::ServiceTokenSource`]), which carries the [`Scope`]s of the
//! operations that service may perform.

pub mod jwks;
pub mod scope;
pub mod service_token;

pub use scope::Scope;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Problem;

/// The `iss` of every access token.
pub const ISSUER: &str = "ticketing-user-service";
/// The `aud` of every access token: the whole fleet.
pub const AUDIENCE: &str = "ticketing";
/// The only signing algorithm accepted.
pub const ALGORITHM: Algorithm = Algorithm::EdDSA;

/// What a caller may be.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    Customer,
    Organizer,
    Admin,
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Organizer => "organizer",
            Self::Admin => "admin",
            Self::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customer" => Ok(Self::Customer),
            "organizer" => Ok(Self::Organizer),
            "admin" => Ok(Self::Admin),
            "service" => Ok(Self::Service),
            other => Err(format!(
                "unknown role `{other}`; expected customer, organizer, admin or service"
            )),
        }
    }
}

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// A user id (UUID) or, for a service token, the service's client id.
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// A service token's scopes, space-separated (RFC 8693); absent in user tokens.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
}

/// The authenticated caller of a request. Take it as a handler argument (401 without a valid
/// token), or as `Option<Caller>` where anonymous calls are allowed.
#[derive(Debug, Clone)]
pub struct Caller {
    pub subject: String,
    pub email: Option<String>,
    pub role: Role,
    /// What a service token was granted; always empty for users.
    pub scopes: Vec<Scope>,
}

impl Caller {
    /// The user id of a user token; `None` for a service.
    pub fn user_id(&self) -> Option<Uuid> {
        match self.role {
            Role::Service => None,
            _ => Uuid::parse_str(&self.subject).ok(),
        }
    }

    pub fn is_service(&self) -> bool {
        self.role == Role::Service
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller is a service granted `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.is_service() && self.scopes.contains(&scope)
    }

    /// 403 unless the caller is a service granted `scope`.
    pub fn require_scope(&self, scope: Scope) -> Result<(), Problem> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Problem::forbidden().with_detail(format!(
                "This operation needs a service token with the `{scope}` scope."
            )))
        }
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), Problem> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(Problem::forbidden())
        }
    }

    /// Whether the caller is the user `id`, an admin, or a service granted `scope`: the usual
    /// "may see this user's things" rule.
    pub fn may_act_for(&self, id: Uuid, scope: Scope) -> bool {
        self.is_admin() || self.user_id() == Some(id) || self.has(scope)
    }
}

impl From<Claims> for Caller {
    fn from(claims: Claims) -> Self {
        let scopes = match claims.role {
            Role::Service => Scope::parse_claim(&claims.scope),
            _ => Vec::new(),
        };
        Self {
            subject: claims.sub,
            email: claims.email,
            role: claims.role,
            scopes,
        }
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("invalid token: {0}")]
    Invalid(String),
    #[error("the signing keys could not be fetched: {0}")]
    KeysUnavailable(String),
}

impl From<AuthError> for Problem {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::Missing => {
                Problem::unauthorized("Send `Authorization: Bearer <access token>`.")
            }
            AuthError::Invalid(reason) => {
                tracing::info!(%reason, "token refused");
                Problem::unauthorized("The access token is invalid or expired.")
            }
            AuthError::KeysUnavailable(reason) => {
                tracing::warn!(%reason, "cannot verify tokens: signing keys unavailable");
                Problem::unavailable("Tokens cannot be verified right now.", 5)
            }
        }
    }
}

/// Where verification keys come from.
enum KeySource {
    /// Keys known in-process (user-service verifying its own tokens).
    Static(HashMap<String, DecodingKey>),
    /// user-service's JWKS, fetched over HTTP and cached.
    Jwks(jwks::JwksCache),
}

/// Verifies access tokens. Cheap to share: wrap it in an `Arc` (the server does).
pub struct TokenVerifier {
    keys: KeySource,
    validation: Validation,
    /// Tokens already verified, with their key id, until they expire. A buyer or a service sends
    /// the same token with every request for its lifetime, and its Ed25519 check was about a
    /// sixth of seating's CPU per hold (docs/performance.md). Keyed by the whole token: only the
    /// very same bytes, signature included, are taken as verified.
    verified: quick_cache::sync::Cache<Box<str>, (String, Claims)>,
}

/// Verified tokens kept per process: a few hundred bytes each, about 3 MB in all.
const VERIFIED_TOKENS: usize = 4096;

impl fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenVerifier").finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// Verifies against keys held in-process, by `kid`.
    pub fn with_keys(keys: HashMap<String, DecodingKey>) -> Self {
        Self::new(KeySource::Static(keys))
    }

    /// Verifies against the JWKS at `url` (user-service's `/.well-known/jwks.json`).
    pub fn with_jwks(url: String, http: reqwest::Client) -> Self {
        Self::new(KeySource::Jwks(jwks::JwksCache::new(url, http)))
    }

    fn new(keys: KeySource) -> Self {
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            keys,
            validation,
            verified: quick_cache::sync::Cache::new(VERIFIED_TOKENS),
        }
    }

    /// The claims of a valid token.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        if let Some((kid, claims)) = self.verified.get(token) {
            // Still unexpired (as `exp` is checked below), and its key still published: a key
            // withdrawn from the JWKS stops its tokens here too.
            let now = jsonwebtoken::get_current_timestamp();
            let unexpired = u64::try_from(claims.exp)
                .is_ok_and(|exp| exp.saturating_add(self.validation.leeway) >= now);
            if unexpired && self.key(&kid).await?.is_some() {
                return Ok(claims);
            }
            self.verified.remove(token);
        }
        let (kid, claims) = self.verify_signature(token).await?;
        self.verified.insert(token.into(), (kid, claims.clone()));
        Ok(claims)
    }

    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, AuthError> {
        Ok(match &self.keys {
            KeySource::Static(keys) => keys.get(kid).cloned(),
            KeySource::Jwks(cache) => cache.key(kid).await?,
        })
    }

    /// The token's key id and claims, checked: algorithm, key, signature, `exp`, `iss`, `aud`.
    async fn verify_signature(&self, token: &str) -> Result<(String, Claims), AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| AuthError::Invalid(e.to_string()))?;
        // Pinned before any key is looked up: `none`, HS* and RS* never get further.
        if header.alg != ALGORITHM {
            return Err(AuthError::Invalid(format!(
                "algorithm {:?} is not accepted",
                header.alg
            )));
        }
        let kid = header
            .kid
            .ok_or_else(|| AuthError::Invalid("no `kid` in the header".into()))?;
        let key = self
            .key(&kid)
            .await?
            .ok_or_else(|| AuthError::Invalid(format!("unknown key id `{kid}`")))?;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?;
        Ok((kid, data.claims))
    }
}

fn bearer_token(parts: &Parts) -> Option<Result<&str, AuthError>> {
    let value = parts.headers.get(AUTHORIZATION)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AuthError::Invalid("malformed Authorization header".into()));
    Some(token)
}

fn verifier(parts: &Parts) -> Result<Arc<TokenVerifier>, Problem> {
    parts
        .extensions
        .get::<Arc<TokenVerifier>>()
        .cloned()
        .ok_or_else(|| {
            tracing::error!("no TokenVerifier in the request extensions: the app was not built with service_kit::server");
            Problem::internal()
        })
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).unwrap_or(Err(AuthError::Missing))?;
        let claims = verifier(parts)?.verify(token).await?;
        Ok(claims.into())
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Caller {
    type Rejection = Problem;

    /// No `Authorization` header: anonymous. A header with a bad token is still a 401.
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let Some(token) = bearer_token(parts) else {
            return Ok(None);
        };
        let claims = verifier(parts)?.verify(token?).await?;
        Ok(Some(claims.into()))
    }
}

/// Who may call a route, as a type: the parameter of [`Authorized`].
pub trait Roles: Send + Sync + 'static {
    const ALLOWED: &'static [Role];
    /// The scope a service token needs besides its role (users are judged by their role).
    const SCOPE: Option<Scope> = None;
}

/// Declares the marker of an operation only some services (and perhaps admins) may perform.
macro_rules! operation {
    ($(#[$doc:meta])* $name:ident: $($role:ident)|+ with $scope:ident) => {
        $(#[$doc])*
        pub struct $name;
        impl Roles for $name {
            const ALLOWED: &'static [Role] = &[$(Role::$role),+];
            const SCOPE: Option<Scope> = Some(Scope::$scope);
        }
    };
}

operation!(
    /// Pushing an event's seats to seating: catalog.
    PushInventory: Service with SeatingInventory
);
operation!(
    /// Selling a hold to an order and returning sold seats: order-service.
    SellSeats: Service with SeatingSell
);
operation!(
    /// Charging a card: order-service.
    Charge: Service with PaymentsCharge
);
operation!(
    /// Refunding a payment: order-service, and admins.
    Refund: Service | Admin with PaymentsRefund
);

/// Organizers and admins.
pub struct Organizers;
impl Roles for Organizers {
    const ALLOWED: &'static [Role] = &[Role::Organizer, Role::Admin];
}

/// Admins only.
pub struct Admins;
impl Roles for Admins {
    const ALLOWED: &'static [Role] = &[Role::Admin];
}

/// A caller whose role is one of `R`'s, checked by the extractor itself: put it before the body
/// extractor, and a caller without the role gets 403 before the body is read, so a refusal never
/// describes what shape the body should have had.
pub struct Authorized<R: Roles> {
    pub caller: Caller,
    roles: std::marker::PhantomData<R>,
}

impl<R: Roles> std::ops::Deref for Authorized<R> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.caller
    }
}

impl<R: Roles, S: Send + Sync> FromRequestParts<S> for Authorized<R> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = <Caller as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        caller.require(R::ALLOWED)?;
        if let Some(scope) = R::SCOPE
            && caller.is_service()
        {
            caller.require_scope(scope)?;
        }
        Ok(Self {
            caller,
            roles: std::marker::PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jsonwebtoken::{EncodingKey, Header};
    use ring::signature::{Ed25519KeyPair, KeyPair};

    use super::*;

    fn keys() -> (EncodingKey, DecodingKey) {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        (
            EncodingKey::from_ed_der(pkcs8.as_ref()),
            DecodingKey::from_ed_der(pair.public_key().as_ref()),
        )
    }

    fn now() -> i64 {
        i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap()
    }

    fn token(key: &EncodingKey, exp: i64) -> String {
        let claims = Claims {
            sub: "buyer".into(),
            email: None,
            role: Role::Customer,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now(),
            exp,
            jti: "j1".into(),
            scope: String::new(),
        };
        let mut header = Header::new(ALGORITHM);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    }

    #[tokio::test]
    async fn a_verified_token_is_kept_until_it_expires_and_only_for_its_own_bytes() {
        let (signing, verifying) = keys();
        let mut verifier = TokenVerifier::with_keys(HashMap::from([("k1".into(), verifying)]));
        verifier.validation.leeway = 0;
        let good = token(&signing, now() + 1);
        assert_eq!(verifier.verify(&good).await.unwrap().sub, "buyer");
        assert!(verifier.verified.get(good.as_str()).is_some());
        assert_eq!(verifier.verify(&good).await.unwrap().sub, "buyer");

        // The same claims under another signature are checked, not matched to the kept token.
        let at = good.rfind('.').unwrap() + 10;
        let swapped = if &good[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{swapped}{}", &good[..at], &good[at + 1..]);
        assert!(verifier.verify(&forged).await.is_err());
        // Nor is a token signed by a key the verifier does not know.
        let (stranger, _) = keys();
        assert!(
            verifier
                .verify(&token(&stranger, now() + 60))
                .await
                .is_err()
        );

        // Expired: refused although it was kept, and no longer kept.
        tokio::time::sleep(Duration::from_millis(2_100)).await;
        assert!(verifier.verify(&good).await.is_err());
        assert!(verifier.verified.get(good.as_str()).is_none());
    }
}
