//! [`RevocationCheck`]: the one question every authenticated request asks.

use async_trait::async_trait;
use tessera_core::time::Timestamp;

use crate::error::StoreError;
use crate::model::{AccessCheck, AccessStatus, RevocationMode};

/// Whether one access token is still live: all a verifier (the server's authenticated routes,
/// `tessera-guard`) needs from the store. Kept apart from [`SessionStore`] so that a verifier
/// can hold nothing that changes state.
///
/// [`SessionStore`]: super::SessionStore
#[async_trait]
pub trait RevocationCheck: Send + Sync {
    /// The revocation check of one access token: `Active` only when the session is alive,
    /// `check.token_version` ≥ the stored version, and the jti is registered and unexpired
    /// (allowlist) / not denied (denylist). Read only: writes nothing, publishes nothing.
    ///
    /// One round trip, but on Redis **not a script and not atomic, on purpose**: a pipeline
    /// of plain reads (`HMGET` of the session, `GET` of the version, in denylist mode
    /// `EXISTS` of the denial), because a script costs several times the Redis CPU of the
    /// reads on the hottest path (see `redis/access.rs`). A revocation landing between the
    /// reads gives the answer of some instant during the check: before it, or after it
    /// (the version only grows, so a newer one only refuses more). In memory it is one step
    /// under the lock.
    async fn check_access(
        &self,
        check: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<AccessStatus, StoreError>;
}
