//! Authenticating an access token.

use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;
use tessera_store::{AccessCheck, AccessStatus};

use super::error::AuthError;
use super::fingerprint::Fingerprint;
use super::service::AuthService;
use crate::config::FailMode;

impl AuthService {
    /// Verifies the token (signature, header rules, claims, time), checks its fingerprint
    /// binding, and then asks the state store, in one round trip, whether it is still live
    /// (session, token version, jti). With binding on, a token without `fgp` or a request
    /// without the matching cookie is refused. With the store unreachable: 503
    /// ([`AuthError::StateStore`]) unless fail-open is configured, in which case a verified
    /// token is accepted and a warning logged.
    pub async fn authenticate(
        &self,
        token: &str,
        fingerprint: Option<&Fingerprint>,
        now: Timestamp,
    ) -> Result<AccessClaims, AuthError> {
        let claims = self.verify_live(token, now).await?;
        if self.policy.fingerprint || claims.fgp.is_some() {
            let bound = match (&claims.fgp, fingerprint) {
                (Some(claim), Some(cookie)) => cookie.matches(claim),
                _ => false,
            };
            if !bound {
                return Err(AuthError::FingerprintMismatch);
            }
        }
        Ok(claims)
    }

    /// Signature, claims and the store's liveness check, without fingerprint binding (what a
    /// resource server can check: it never sees the browser's cookie).
    pub async fn verify_live(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, AuthError> {
        let claims = self.verified_claims(token, now)?;
        match self.liveness(&claims, now).await {
            Ok(AccessStatus::Active) => Ok(claims),
            Ok(AccessStatus::Revoked) => Err(AuthError::TokenRevoked),
            Err(e) if e.is_unavailable() && self.policy.fail_mode == FailMode::Open => {
                tracing::warn!(error = %e, "state store unavailable: accepting a verified token (fail-open)");
                Ok(claims)
            }
            Err(e) => Err(AuthError::StateStore(e)),
        }
    }

    /// Signature, header rules, claims and time. A token this process already verified under
    /// the current ring skips the signature check (auth/verified.rs).
    pub(crate) fn verified_claims(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, tessera_core::token::VerifyError> {
        let ring = self.keys.current();
        if let Some(claims) = self.verified.get(&ring, token, now) {
            return Ok(claims);
        }
        let claims = self.verifier.verify(&*ring, token, now)?;
        self.verified.insert(&ring, token, &claims);
        Ok(claims)
    }

    /// The state store's revocation check of verified claims: one round trip, on every
    /// request.
    pub(crate) async fn liveness(
        &self,
        claims: &AccessClaims,
        now: Timestamp,
    ) -> Result<AccessStatus, tessera_store::StoreError> {
        let check = AccessCheck {
            user: claims.sub,
            session: claims.sid,
            jti: claims.jti,
            token_version: claims.ver,
        };
        self.store
            .check_access(check, self.policy.revocation_mode, now)
            .await
    }
}
