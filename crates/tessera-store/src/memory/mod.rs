//! The in-process backend: the embedded default, with the same semantics as Redis.
//!
//! # Layout
//! - `state/`: plain structs and the synchronous rules (one function per trait method, a
//!   file per concern).
//! - this module: [`MemoryStore`], which implements every store trait by running each rule
//!   under one mutex, so every call is one atomic step exactly as a Lua script is on Redis
//!   (`check_access` included, which on Redis is a pipeline of reads).
//!
//! Memory stays bounded without a cleanup job: every [`SWEEP_EVERY`] calls the store drops
//! dead sessions, expired access grants, expired denylist entries, security events past
//! their retention, expired ephemeral records and expired map entries (the equivalent of
//! Redis TTLs). Statistics are exact and maintained as the state changes (`figures.rs`):
//! `stats()`, read at every `/metrics` scrape, does not walk the sessions under the lock.
//! Nothing here survives a restart — signing everybody out, as losing Redis data does in
//! allowlist mode.
//!
//! No revocation notices: unlike the Redis scripts (see
//! [`redis::invalidation`](crate::redis::invalidation)), this backend publishes nothing when
//! it revokes. It lives in one process, where no near-cache holds its answers; a
//! `tessera-guard` in another process can only share a Redis store.

mod figures;
mod state;

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;

use crate::ephemeral::{Attempts, EphemeralKey, Rate, Throttle, check_map, dur_ms, ms};
use crate::error::StoreError;
use crate::model::*;
use crate::store::{
    EphemeralStore, EventLog, RevocationCheck, SessionRestore, SessionStore, StoreHealth, UserMaps,
};

use state::State;

/// How many calls pass between two sweeps of dead entries.
pub const SWEEP_EVERY: u64 = 256;

/// In-process [`StateStore`](crate::StateStore). Cheap to create; share it behind an `Arc`.
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

    /// Locks the state without counting a call (methods without `now`).
    fn lock_plain(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Number of ephemeral records plus map entries held, dead or alive (for tests of the
    /// sweep).
    pub fn stored_ephemeral(&self) -> usize {
        self.lock_plain().stored_ephemeral()
    }

    /// Number of sessions held, dead or alive (for tests of the sweep).
    pub fn stored_sessions(&self) -> usize {
        let guard = self.state.lock().unwrap_or_else(|e| e.into_inner());
        guard.stored_sessions()
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create_session(
        &self,
        new: NewSession,
        now: Timestamp,
    ) -> Result<CreatedSession, StoreError> {
        let user = new.user;
        let mut state = self.lock(now);
        let out = state.create_session(new, now);
        state.reindex(user);
        Ok(out)
    }

    async fn rotate_refresh(
        &self,
        rotation: Rotation,
        now: Timestamp,
    ) -> Result<RotationOutcome, StoreError> {
        let user = rotation.user;
        let mut state = self.lock(now);
        let out = state.rotate_refresh(rotation, now);
        state.reindex(user);
        Ok(out)
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock(now);
        let out = state.revoke_session(user, session, now);
        state.reindex(user);
        Ok(out)
    }

    async fn revoke_session_by_refresh(
        &self,
        user: UserId,
        session: SessionId,
        refresh: &TokenHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock(now);
        let out = state.revoke_session_by_refresh(user, session, refresh, now);
        state.reindex(user);
        Ok(out)
    }

    async fn revoke_user(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        let mut state = self.lock(now);
        let out = state.revoke_user(user, now);
        state.reindex(user);
        Ok(out)
    }

    async fn revoke_user_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        Ok(self.lock(now).revoke_user_except(user, keep, now))
    }

    async fn revoke_access_token(
        &self,
        user: UserId,
        session: SessionId,
        grant: AccessGrant,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut state = self.lock(now);
        let out = state.revoke_access_token(user, session, grant, mode, now);
        state.reindex(user);
        Ok(out)
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let mut state = self.lock(now);
        let out = state.list_sessions(user, now);
        state.reindex(user);
        Ok(out)
    }

    async fn find_access_token(
        &self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Result<Option<(SessionId, Timestamp)>, StoreError> {
        Ok(self.lock(now).find_access_token(user, jti, now))
    }
}

#[async_trait]
impl SessionRestore for MemoryStore {
    async fn restore_session(
        &self,
        restored: RestoredSession,
        now: Timestamp,
    ) -> Result<RestoreOutcome, StoreError> {
        let user = restored.user;
        let mut state = self.lock(now);
        let out = state.restore_session(restored, now);
        state.reindex(user);
        Ok(out)
    }
}

#[async_trait]
impl RevocationCheck for MemoryStore {
    async fn check_access(
        &self,
        check: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<AccessStatus, StoreError> {
        Ok(self.lock(now).check_access(check, mode, now))
    }
}

#[async_trait]
impl EventLog for MemoryStore {
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
}

#[async_trait]
impl EphemeralStore for MemoryStore {
    async fn put_if_absent(
        &self,
        key: &EphemeralKey,
        value: &[u8],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        key.validate()?;
        let exp = ms(now).saturating_add(dur_ms(ttl));
        Ok(self.lock(now).put_if_absent(key, value, exp, ms(now)))
    }

    async fn get(&self, key: &EphemeralKey, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        key.validate()?;
        Ok(self.lock(now).get(key, ms(now)))
    }

    async fn take(
        &self,
        key: &EphemeralKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        key.validate()?;
        Ok(self.lock(now).take(key, ms(now)))
    }

    async fn delete(&self, key: &EphemeralKey) -> Result<bool, StoreError> {
        key.validate()?;
        Ok(self.lock_plain().delete(key))
    }

    async fn count_attempt(
        &self,
        key: &EphemeralKey,
        max: u32,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Attempts, StoreError> {
        key.validate()?;
        let exp = ms(now).saturating_add(dur_ms(ttl));
        self.lock(now).count_attempt(key, max, exp, ms(now))
    }

    async fn throttle(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<Throttle, StoreError> {
        key.validate()?;
        self.lock(now).throttle(key, rate, cost, ms(now))
    }

    async fn refund(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        key.validate()?;
        self.lock(now).refund(key, rate, cost, ms(now))
    }
}

#[async_trait]
impl UserMaps for MemoryStore {
    async fn map_put(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        value: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        check_map(map, Some(field))?;
        self.lock(now)
            .map_put(user, map, field, value, ms(expires_at), ms(now));
        Ok(())
    }

    async fn map_get(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        check_map(map, Some(field))?;
        Ok(self.lock(now).map_get(user, map, field, ms(now)))
    }

    async fn map_list(
        &self,
        user: UserId,
        map: &str,
        now: Timestamp,
    ) -> Result<Vec<(String, Vec<u8>, Timestamp)>, StoreError> {
        check_map(map, None)?;
        Ok(self.lock(now).map_list(user, map, ms(now)))
    }

    async fn map_remove(&self, user: UserId, map: &str, field: &str) -> Result<bool, StoreError> {
        check_map(map, Some(field))?;
        Ok(self.lock_plain().map_remove(user, map, field))
    }

    async fn map_clear(&self, user: UserId, map: &str) -> Result<u64, StoreError> {
        check_map(map, None)?;
        Ok(self.lock_plain().map_clear(user, map))
    }
}

#[async_trait]
impl StoreHealth for MemoryStore {
    async fn stats(&self, now: Timestamp) -> Result<StoreStats, StoreError> {
        Ok(self.lock(now).stats(now))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
