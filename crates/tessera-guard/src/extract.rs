//! [`Authenticated`]: the axum extractor, with typed claims.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use tessera_core::time::Timestamp;
use tessera_core::token::{AccessClaims, VerifyError};

use crate::error::GuardError;
use crate::guard::Guard;

/// A token that passed the guard: its Tessera claims and the raw token (to read further,
/// service-specific claims with [`decode`](Self::decode)). Put into the request extensions by
/// the [`GuardLayer`](crate::GuardLayer) and by [`Authenticated`].
#[derive(Clone)]
pub struct VerifiedToken {
    claims: AccessClaims,
    token: Arc<str>,
}

impl std::fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token itself: it is a bearer credential.
        f.debug_struct("VerifiedToken")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl VerifiedToken {
    pub(crate) fn new(claims: AccessClaims, token: &str) -> Self {
        Self {
            claims,
            token: Arc::from(token),
        }
    }

    /// The verified Tessera claims.
    pub fn claims(&self) -> &AccessClaims {
        &self.claims
    }

    /// The payload deserialized as `C` (the signature was verified, so the payload is
    /// trusted). A payload that is not a `C`: [`VerifyError::InvalidClaims`].
    pub fn decode<C: DeserializeOwned>(&self) -> Result<C, GuardError> {
        let invalid = || GuardError::InvalidToken(VerifyError::InvalidClaims);
        let payload = self.token.split('.').nth(1).ok_or_else(invalid)?;
        let raw = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
        serde_json::from_slice(&raw).map_err(|_| invalid())
    }
}

/// Claims an [`Authenticated`] handler can ask for. [`AccessClaims`] (the default) costs
/// nothing extra; for your own type, implement this with [`VerifiedToken::decode`]:
///
/// ```
/// use serde::Deserialize;
/// use tessera_guard::{GuardClaims, GuardError, VerifiedToken};
///
/// #[derive(Deserialize)]
/// struct MyClaims { sub: String, amr: Vec<String> }
///
/// impl GuardClaims for MyClaims {
///     fn from_verified(v: &VerifiedToken) -> Result<Self, GuardError> { v.decode() }
/// }
/// ```
pub trait GuardClaims: Sized + Send + 'static {
    /// The claims of a verified, live token.
    fn from_verified(v: &VerifiedToken) -> Result<Self, GuardError>;
}

impl GuardClaims for AccessClaims {
    fn from_verified(v: &VerifiedToken) -> Result<Self, GuardError> {
        Ok(v.claims.clone())
    }
}

impl GuardClaims for VerifiedToken {
    fn from_verified(v: &VerifiedToken) -> Result<Self, GuardError> {
        Ok(v.clone())
    }
}

/// The claims of the request's verified, live access token.
///
/// Uses the [`VerifiedToken`] left by the [`GuardLayer`](crate::GuardLayer) when the route
/// is behind it; otherwise authenticates the request itself with the [`Guard`] found in the
/// request extensions (e.g. `.layer(Extension(guard))`), so single routes can be protected
/// without the layer. Neither present: [`GuardError::NotInstalled`] (500). Rejections are
/// [`GuardError`] responses (401 / 503).
#[derive(Clone, Debug)]
pub struct Authenticated<C = AccessClaims>(pub C);

impl<S, C> FromRequestParts<S> for Authenticated<C>
where
    S: Send + Sync,
    C: GuardClaims,
{
    type Rejection = GuardError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(v) = parts.extensions.get::<VerifiedToken>() {
            return C::from_verified(v).map(Authenticated);
        }
        let guard = parts
            .extensions
            .get::<Guard>()
            .cloned()
            .ok_or(GuardError::NotInstalled)?;
        let v = guard
            .authenticate_headers(&parts.headers, Timestamp::now())
            .await?;
        let claims = C::from_verified(&v)?;
        parts.extensions.insert(v);
        Ok(Authenticated(claims))
    }
}
