//! [`SessionRestore`]: putting back a session the store lost.

use async_trait::async_trait;
use tessera_core::time::Timestamp;

use crate::error::StoreError;
use crate::model::{RestoreOutcome, RestoredSession};

/// Putting a session back from its durable copy after the store lost it (a `FLUSHALL`, a
/// restart without persistence, a failover to an empty replica, or a restart of the process
/// that held the memory store). Never on the hot path: the server calls it only when a
/// refresh found no session.
#[async_trait]
pub trait SessionRestore: Send + Sync {
    /// Writes `restored` back **only if the store holds no record of the session** (a record
    /// that is there, alive or dead, wins: [`RestoreOutcome::Present`], nothing changes).
    /// The user's token version is raised to `restored.token_version` if lower or missing
    /// (never lowered); then, when the session is alive at `now` under that version
    /// (`opened_under` not behind it, `now < min(last_seen + idle, absolute_expiry)`), the
    /// session record with its family state (current and previous hash, seed, generation),
    /// attributes and binding is written with its remaining TTL, added to the user's index,
    /// and every unexpired `denied` jti is denylisted until its `exp`:
    /// [`RestoreOutcome::Restored`]. Otherwise [`RestoreOutcome::Dead`]. No access grant is
    /// registered.
    ///
    /// Atomic (`restore_session.lua`): a concurrent caller sees the session absent or
    /// restored with its denylist entries, never one without the other; two concurrent
    /// restores of one session give one `Restored` and one `Present`. Notice: `u:UID` when
    /// an existing version is raised (as `create_session`).
    async fn restore_session(
        &self,
        restored: RestoredSession,
        now: Timestamp,
    ) -> Result<RestoreOutcome, StoreError>;
}
