//! [`VerifiedToken`]: a token that passed the guard. Depends on nothing else of this crate
//! but the error type, so that [`guard`](crate::guard), [`extract`](crate::extract) and
//! [`layer`](crate::layer) can all use it without importing each other.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use tessera_core::token::{AccessClaims, VerifyError};

use crate::error::GuardError;

/// A token that passed the guard: its Tessera claims and the raw token (to read further,
/// service-specific claims with [`decode`](Self::decode)). Put into the request extensions by
/// the [`GuardLayer`](crate::GuardLayer) and by [`Authenticated`](crate::Authenticated).
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
