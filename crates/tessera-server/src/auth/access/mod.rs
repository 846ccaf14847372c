//! [`AccessService`]: who is calling. An access token authenticated for a request
//! ([`AccessService::authenticate`]) or introspected for a resource server
//! ([`introspect`]), the session-bound CSRF token of cookie transport ([`csrf`]), and the
//! caller's account view of `/v1/me` ([`profile`]).
//!
//! - tokens this process already verified skip a repeated signature check
//!   ([`VerifiedTokens`], shared with the guard).
//! - [`profile`]: what `/v1/me` shows of an account, cached briefly.

pub mod csrf;
pub mod introspect;
pub mod profile;

use std::sync::Arc;

use tessera_core::keys::KeyRing;
use tessera_core::time::Timestamp;
use tessera_core::token::{AccessClaims, VerifiedTokens};
use tessera_store::{AccessCheck, AccessStatus};

use super::core::AuthCore;
use super::error::AuthError;
use super::fingerprint::Fingerprint;
use crate::config::FailMode;

/// Authenticates access tokens (see the module docs).
#[derive(Clone, Debug)]
pub struct AccessService {
    core: Arc<AuthCore>,
    /// Tokens already verified by this process (the revocation check still runs each time).
    verified: Arc<VerifiedTokens<KeyRing>>,
}

impl AccessService {
    /// Over `core`.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self {
            core,
            verified: Arc::default(),
        }
    }

    /// Verifies the token (signature, header rules, claims, time), checks its fingerprint
    /// binding ([`Fingerprinting::admit`]), and then asks the state store, in one round trip,
    /// whether it is still live (session, token version, jti). With binding on, a token
    /// without `fgp` or a request without the matching cookie is refused. With the store
    /// unreachable: 503 ([`AuthError::StateStore`]) unless fail-open is configured, in which
    /// case a verified token is accepted and a warning logged.
    ///
    /// [`Fingerprinting::admit`]: super::fingerprint::Fingerprinting::admit
    pub async fn authenticate(
        &self,
        token: &str,
        fingerprint: Option<&Fingerprint>,
        now: Timestamp,
    ) -> Result<AccessClaims, AuthError> {
        let claims = self.verify_live(token, now).await?;
        self.core
            .policy
            .fingerprint
            .admit(claims.fgp.as_deref(), fingerprint)?;
        Ok(claims)
    }

    /// Signature, claims and the store's liveness check, without fingerprint binding (what a
    /// resource server can check: it never sees the browser's cookie).
    pub async fn verify_live(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, AuthError> {
        let claims = self.claims(token, now)?;
        match self.liveness(&claims, now).await {
            Ok(AccessStatus::Active) => Ok(claims),
            Ok(AccessStatus::Revoked) => Err(AuthError::TokenRevoked),
            Err(e) if e.is_unavailable() && self.core.policy.fail_mode == FailMode::Open => {
                // While the store's circuit breaker is open every request takes this path: the
                // breaker logs its opening and closing once; one line per request would flood.
                if e.is_breaker_open() {
                    tracing::debug!(
                        "state store's circuit breaker open: accepting a verified token (fail-open)"
                    );
                } else {
                    tracing::warn!(error = %e, "state store unavailable: accepting a verified token (fail-open)");
                }
                Ok(claims)
            }
            Err(e) => Err(AuthError::StateStore(e)),
        }
    }

    /// Signature, header rules, claims and time only: no revocation check. A token this
    /// process already verified under the current ring skips the signature check
    /// ([`VerifiedTokens`]).
    pub fn claims(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, tessera_core::token::VerifyError> {
        let ring = self.core.keys.current();
        self.verified.verify(&self.core.verifier, &ring, token, now)
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
        self.core
            .store
            .check_access(check, self.core.policy.revocation_mode, now)
            .await
    }
}
