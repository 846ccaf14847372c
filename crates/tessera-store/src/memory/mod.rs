//! The in-process backend: the embedded default, with the same semantics as Redis.
//!
//! # Layout
//! - [`state`](self): plain structs and the synchronous rules (one function per trait method).
//! - this module: [`MemoryStore`], which runs each rule under one mutex, so every call is one
//!   atomic step exactly as a Lua script is on Redis.
//!
//! Memory stays bounded without a cleanup job: every [`SWEEP_EVERY`] calls the store drops
//! dead sessions, expired access grants, expired denylist entries and security events past
//! their retention (the equivalent of Redis TTLs). Statistics are counted exactly from these
//! maps. Nothing here survives a restart — signing everybody out, as losing Redis data
//! does in allowlist mode.

mod state;

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;

use crate::error::StoreError;
use crate::model::*;
use crate::store::StateStore;

use state::State;

/// How many calls pass between two sweeps of dead entries.
pub const SWEEP_EVERY: u64 = 256;

/// In-process [`StateStore`]. Cheap to create; share it behind an `Arc`.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the state for one step, sweeping dead entries every [`SWEEP_EVERY`] calls. The
    /// guard is never held across an `.await` (no method awaits while holding it). A poisoned
    /// lock is recovered: every rule leaves the state consistent before it can fail.
    fn lock(&self, now: Timestamp) -> MutexGuard<'_, State> {
        let mut guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        guard.calls = guard.calls.wrapping_add(1);
        if guard.calls.is_multiple_of(SWEEP_EVERY) {
            guard.sweep(now);
        }
        guard
    }

    /// Number of sessions held, dead or alive (for tests of the sweep).
    pub fn stored_sessions(&self) -> usize {
        let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        guard.stored_sessions()
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn create_session(
        &self,
        new: NewSession,
        now: Timestamp,
    ) -> Result<CreatedSession, StoreError> {
        Ok(self.lock(now).create_session(new, now))
    }

    async fn rotate_refresh(
        &self,
        rotation: Rotation,
        now: Timestamp,
    ) -> Result<RotationOutcome, StoreError> {
        Ok(self.lock(now).rotate_refresh(rotation, now))
    }

    async fn check_access(
        &self,
        check: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<AccessStatus, StoreError> {
        Ok(self.lock(now).check_access(check, mode, now))
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self.lock(now).revoke_session(user, session, now))
    }

    async fn revoke_user(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        Ok(self.lock(now).revoke_user(user, now))
    }

    async fn revoke_access_token(
        &self,
        user: UserId,
        session: SessionId,
        grant: AccessGrant,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock(now)
            .revoke_access_token(user, session, grant, mode, now))
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(self.lock(now).list_sessions(user, now))
    }

    async fn find_access_token(
        &self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Result<Option<(SessionId, Timestamp)>, StoreError> {
        Ok(self.lock(now).find_access_token(user, jti, now))
    }

    async fn stats(&self, now: Timestamp) -> Result<StoreStats, StoreError> {
        Ok(self.lock(now).stats(now))
    }

    async fn push_event(
        &self,
        user: UserId,
        event: SecurityEventRecord,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.lock(now).push_event(user, event, now);
        Ok(())
    }

    async fn recent_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<SecurityEventRecord>, StoreError> {
        Ok(self.lock(now).recent_events(user, limit, before, now))
    }

    async fn token_version(&self, user: UserId) -> Result<u64, StoreError> {
        let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        Ok(guard.token_version(user))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
