//! [`AuthCore`]: what every auth service is built on — the accounts table, the password
//! hasher, the state store, the signing keys, the token issuer and verifier, the refresh key,
//! the policy, the audit trail, the second-factor records, the rate limits, the profile cache
//! and the metrics — and the steps more than one service takes, each in one place:
//!
//! - [`tokens`]: `AuthCore::sign_access` (every access token is signed there) and
//!   `AuthCore::store_grant` (the grant the store tracks for it);
//! - [`revocation`]: `AuthCore::record_revocation` (the metric and the security event of
//!   every revocation) and `AuthCore::revoke_everything` (every session of a user, store
//!   then SQL);
//! - [`proof`]: the password and a second-factor code, checked under the sign-in budgets.
//!
//! The services ([`super::sign_in`], [`super::sessions`], [`super::second_factor`],
//! [`super::password`], [`super::admin`], [`super::access`]) each hold an `Arc<AuthCore>`.

pub mod proof;
pub mod records;
pub mod revocation;
pub mod tokens;

use std::sync::Arc;

use tessera_core::ids::UserId;
use tessera_core::refresh::RefreshKey;
use tessera_core::token::{TokenIssuer, Verifier};
use tessera_store::StateStore;

use super::access::profile::Profiles;
use super::error::AuthError;
use super::policy::SessionPolicy;
use crate::accounts::password::PasswordHasher;
use crate::accounts::{User, Users};
use crate::app_metrics::Metrics;
use crate::audit::AuditTrail;
use crate::durable::DurableSessions;
use crate::keys::LiveKeys;
use crate::limits::Limits;
use crate::mfa::MfaRecords;

/// The parts every auth service shares (see the module docs). Built once per process.
pub struct AuthCore {
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
    /// What `/v1/me` shows of accounts, cached briefly (`forget` after changing it).
    pub(crate) profiles: Profiles,
    /// Sign-in, refresh and revocation counters.
    pub(crate) metrics: Metrics,
    /// The durable copy of the session state, when it is on: a refresh is judged by it
    /// before the store is asked (`durable::judge`).
    pub(crate) durable: Option<Arc<DurableSessions>>,
}

impl std::fmt::Debug for AuthCore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCore")
            .field("backend", &self.store.backend())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl AuthCore {
    /// Assembles the core.
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
            users,
            hasher,
            store,
            keys,
            issuer,
            verifier,
            refresh_key,
            policy,
            audit,
            mfa,
            limits,
            profiles: Profiles::default(),
            metrics,
            durable: None,
        }
    }

    /// The same core, with refreshes judged by the durable copy `durable`.
    pub fn with_durable_copy(mut self, durable: Option<Arc<DurableSessions>>) -> Self {
        self.durable = durable;
        self
    }

    /// The policy.
    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    /// The user, or [`AuthError::UserNotFound`].
    pub(crate) async fn user(&self, id: UserId) -> Result<User, AuthError> {
        self.users.by_id(id).await?.ok_or(AuthError::UserNotFound)
    }
}
