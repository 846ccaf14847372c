//! [`Authenticated`]: the axum extractor, with typed claims. Depends on [`guard`](crate::guard)
//! (to authenticate a route without the layer), never the other way round.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;

use crate::error::GuardError;
use crate::guard::Guard;
pub use crate::verified::VerifiedToken;

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
        Ok(v.claims().clone())
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
