//! Access tokens: the one place one is signed, and the grant the store tracks for it.

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_core::token::{IssuedToken, TokenRequest};
use tessera_store::AccessGrant;

use super::AuthCore;
use crate::auth::error::AuthError;
use crate::auth::fingerprint::Fingerprint;

impl AuthCore {
    /// The grant the store tracks for a token with this `jti` and `exp`: kept for the
    /// verifier's clock leeway past `exp` (see [`SessionPolicy::clock_leeway`]).
    ///
    /// [`SessionPolicy::clock_leeway`]: crate::auth::SessionPolicy::clock_leeway
    pub(crate) fn store_grant(&self, (jti, exp): (Jti, Timestamp)) -> AccessGrant {
        AccessGrant {
            jti,
            expires_at: exp.plus(self.policy.clock_leeway),
        }
    }

    /// Signs an access token for a grant the store has registered. The `fgp` claim is set
    /// only as [`Fingerprinting::claim`] decides.
    ///
    /// [`Fingerprinting::claim`]: crate::auth::fingerprint::Fingerprinting::claim
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sign_access(
        &self,
        user: UserId,
        session: SessionId,
        token_version: u64,
        amr: Vec<String>,
        fingerprint: Option<&Fingerprint>,
        (jti, expires_at): (Jti, Timestamp),
        now: Timestamp,
    ) -> Result<IssuedToken, AuthError> {
        let ring = self.keys.current();
        let req = TokenRequest {
            user,
            session,
            token_version,
            amr,
            fingerprint_hash: self.policy.fingerprint.claim(fingerprint),
        };
        self.issuer
            .sign(&ring, req, jti, expires_at, now)
            .map_err(|e| AuthError::Internal(e.to_string()))
    }
}
