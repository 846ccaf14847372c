//! Token introspection (RFC 7662) for resource servers.

use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;
use tessera_store::AccessStatus;

use super::AccessService;
use crate::auth::error::AuthError;

/// What introspection can say about a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Introspection {
    /// A live access token: it verifies and the state store holds it active.
    Active(Box<AccessClaims>),
    /// Anything that would be refused: not a token, a refresh token, a bad signature or
    /// claims, expired, revoked. RFC 7662 §2.2 gives no reason, and neither do we.
    Inactive,
}

impl AccessService {
    /// Whether `token` is an access token this server would accept right now: the verifier's
    /// rules (signature, header, claims, time) and the state store's revocation check, as for
    /// an authenticated request — minus the fingerprint cookie, which a resource server does
    /// not have. Only access tokens are introspected; refresh tokens are for the client alone
    /// and answer inactive.
    ///
    /// The state store unreachable is an error ([`AuthError::StateStore`], 503) in every fail
    /// mode: introspection never claims a token active or inactive when that is unknown; the
    /// caller applies its own policy.
    pub async fn introspect(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Introspection, AuthError> {
        let Ok(claims) = self.claims(token, now) else {
            return Ok(Introspection::Inactive);
        };
        match self.liveness(&claims, now).await? {
            AccessStatus::Active => Ok(Introspection::Active(Box::new(claims))),
            AccessStatus::Revoked => Ok(Introspection::Inactive),
        }
    }
}
