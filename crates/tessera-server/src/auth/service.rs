//! The auth service and its policy.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::RefreshKey;
use tessera_core::time::Timestamp;
use tessera_core::token::{IssuedToken, TokenIssuer, TokenRequest, Verifier};
use tessera_store::{AccessGrant, RevocationMode, StateStore};

use super::error::AuthError;
use super::fingerprint::Fingerprint;
use crate::accounts::Users;
use crate::accounts::password::PasswordHasher;
use crate::app_metrics::{LoginResult, Metrics};
use crate::audit::AuditTrail;
use crate::config::FailMode;
use crate::keys::LiveKeys;
use crate::limits::Limits;
use crate::mfa::MfaRecords;

/// Session and revocation policy (from configuration).
#[derive(Clone, Debug)]
pub struct SessionPolicy {
    /// Absolute session lifetime.
    pub absolute_lifetime: Duration,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Refresh grace window (zero disables).
    pub reuse_grace: Duration,
    /// Session limit per user.
    pub max_sessions: Option<u32>,
    /// Revocation mode.
    pub revocation_mode: RevocationMode,
    /// Behaviour when the state store is down.
    pub fail_mode: FailMode,
    /// Clock-skew leeway of the verifier. The store keeps an access grant this much past the
    /// token's `exp`, so a token the verifier still accepts is not reported revoked (and a
    /// denylisted one stays denied) while the leeway runs.
    pub clock_leeway: Duration,
    /// Fingerprint binding: every access token must come with its `__Secure-Fgp` cookie.
    pub fingerprint: bool,
    /// How long a trusted device skips the second factor.
    pub trusted_device_ttl: Duration,
    /// Issuer label in `otpauth://` URIs (what authenticator apps show).
    pub totp_issuer: String,
    /// How long a sign-in challenge waits for its second factor.
    pub mfa_challenge_ttl: Duration,
}

/// Everything the sign-in and token handlers need.
#[derive(Clone)]
pub struct AuthService {
    pub(crate) users: Users,
    pub(crate) hasher: PasswordHasher,
    pub(crate) store: Arc<dyn StateStore>,
    pub(crate) keys: Arc<LiveKeys>,
    pub(crate) issuer: TokenIssuer,
    pub(crate) verifier: Verifier,
    pub(crate) refresh_key: RefreshKey,
    pub(crate) policy: SessionPolicy,
    pub(crate) audit: AuditTrail,
    pub(crate) mfa: MfaRecords,
    pub(crate) limits: Limits,
    /// Tokens already verified by this process (the revocation check still runs each time).
    pub(crate) verified: Arc<super::verified::VerifiedTokens>,
    /// What `/v1/me` shows of accounts, cached briefly (`forget` after changing it).
    pub(crate) profiles: Arc<super::profile::Profiles>,
    /// Sign-in, refresh and revocation counters.
    pub(crate) metrics: Metrics,
}

impl AuthService {
    /// Assembles the service.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        users: Users,
        hasher: PasswordHasher,
        store: Arc<dyn StateStore>,
        keys: Arc<LiveKeys>,
        issuer: TokenIssuer,
        verifier: Verifier,
        refresh_key: RefreshKey,
        policy: SessionPolicy,
        audit: AuditTrail,
        mfa: MfaRecords,
        limits: Limits,
        metrics: Metrics,
    ) -> Self {
        Self {
            metrics,
            verified: Arc::default(),
            profiles: Arc::default(),
            limits,
            audit,
            mfa,
            users,
            hasher,
            store,
            keys,
            issuer,
            verifier,
            refresh_key,
            policy,
        }
    }

    /// Counts a sign-in step's outcome in `tessera_logins_total`. Store, database and
    /// internal errors are not sign-in results: they show as 5xx in the HTTP metrics.
    pub(crate) fn count_login<T>(&self, result: &Result<T, AuthError>, ok: LoginResult) {
        let counted = match result {
            Ok(_) => Some(ok),
            Err(
                AuthError::InvalidCredentials
                | AuthError::AccountDisabled
                | AuthError::InvalidCode { .. }
                | AuthError::ChallengeExpired,
            ) => Some(LoginResult::Failure),
            Err(AuthError::RateLimited { .. } | AuthError::TooManyAttempts) => {
                Some(LoginResult::Limited)
            }
            Err(_) => None,
        };
        if let Some(r) = counted {
            self.metrics.login(r);
        }
    }

    /// The accounts table.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// The state store.
    pub fn store(&self) -> &Arc<dyn StateStore> {
        &self.store
    }

    /// The rate limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The audit trail.
    pub fn audit(&self) -> &AuditTrail {
        &self.audit
    }

    /// The policy.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// Counts a revocation of `kind` in `tessera_revocations_total` and records its security
    /// `event`: every revocation path (user, operator, RFC 7009) does both, through here, so
    /// the metric and the trail never disagree.
    pub(crate) async fn record_revocation(
        &self,
        kind: crate::app_metrics::RevocationKind,
        event: crate::audit::SecurityEvent,
    ) {
        self.metrics.revocation(kind);
        self.audit.record(event).await;
    }

    /// The grant the store tracks for a token with this `jti` and `exp`.
    pub(crate) fn store_grant(&self, (jti, exp): (Jti, Timestamp)) -> AccessGrant {
        AccessGrant {
            jti,
            expires_at: exp.plus(self.policy.clock_leeway),
        }
    }

    /// Signs an access token for a grant the store has registered.
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
            fingerprint_hash: fingerprint
                .filter(|_| self.policy.fingerprint)
                .map(Fingerprint::claim),
        };
        self.issuer
            .sign(&ring, req, jti, expires_at, now)
            .map_err(|e| AuthError::Internal(e.to_string()))
    }
}
