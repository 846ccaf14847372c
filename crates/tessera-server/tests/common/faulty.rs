//! A state store that fails or pauses on demand: wraps the real one and answers
//! [`StoreError::Unavailable`] to revocations (`revoke_user`, `revoke_user_except`,
//! `revoke_session`) once a budget of successful ones is used up, to test what a flow leaves
//! behind when the store fails between its steps; and holds one call right after the store
//! decided it ([`Faults::pause_after`]), to run another request inside that window.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;
use tessera_store::*;
use tokio::sync::Notify;

/// The switch shared by a test and its [`FaultyStore`].
#[derive(Debug, Default)]
pub struct Faults {
    /// Revocations still allowed before they fail; negative: never fail.
    budget: AtomicI64,
    /// The one call to hold, once.
    pause: Mutex<Option<(Moment, Arc<Paused>)>>,
}

/// A moment right after the store decided something, before its caller goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// `rotate_refresh` answered `Reused` (theft: the store revoked the family).
    Reused,
    /// `revoke_session_by_refresh` revoked the session (RFC 7009).
    RevokedByRefresh,
    /// `create_session` evicted older sessions (`max_sessions_per_user`).
    Evicted,
}

/// A held call: [`Paused::reached`] waits until it is held, [`Paused::release`] lets it go.
#[derive(Debug, Default)]
pub struct Paused {
    reached: Notify,
    release: Notify,
}

impl Paused {
    /// Waits until the call is held.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held call go on.
    pub fn release(&self) {
        self.release.notify_one();
    }
}

impl Faults {
    /// Never fails until told to.
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            budget: AtomicI64::new(-1),
            pause: Mutex::new(None),
        })
    }

    /// Holds the next call that reaches `moment` (once) until the returned handle releases
    /// it.
    pub fn pause_after(&self, moment: Moment) -> Arc<Paused> {
        let p = Arc::new(Paused::default());
        *self.pause.lock().unwrap() = Some((moment, Arc::clone(&p)));
        p
    }

    async fn moment(&self, moment: Moment) {
        let held = {
            let mut slot = self.pause.lock().unwrap();
            match slot.take() {
                Some((m, p)) if m == moment => Some(p),
                other => {
                    *slot = other;
                    None
                }
            }
        };
        if let Some(p) = held {
            p.reached.notify_one();
            p.release.notified().await;
        }
    }

    /// Lets `n` more revocations through, then fails every one until [`Faults::heal`].
    pub fn fail_revocations_after(&self, n: i64) {
        self.budget.store(n, Ordering::SeqCst);
    }

    /// The store is back.
    pub fn heal(&self) {
        self.budget.store(-1, Ordering::SeqCst);
    }

    fn revocation(&self) -> Result<(), StoreError> {
        let left = self
            .budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| {
                (b > 0).then(|| b - 1)
            })
            .unwrap_or_else(|b| b);
        if left == 0 {
            return Err(StoreError::Unavailable("injected outage".into()));
        }
        Ok(())
    }
}

/// The wrapper.
pub struct FaultyStore {
    inner: Arc<dyn StateStore>,
    faults: Arc<Faults>,
}

impl FaultyStore {
    /// `inner`, failing as `faults` says.
    pub fn wrap(inner: Arc<dyn StateStore>, faults: Arc<Faults>) -> Arc<dyn StateStore> {
        Arc::new(Self { inner, faults })
    }
}

#[async_trait]
impl SessionStore for FaultyStore {
    async fn create_session(
        &self,
        new: NewSession,
        now: Timestamp,
    ) -> Result<CreatedSession, StoreError> {
        let created = self.inner.create_session(new, now).await?;
        if !created.evicted.is_empty() {
            self.faults.moment(Moment::Evicted).await;
        }
        Ok(created)
    }

    async fn rotate_refresh(
        &self,
        rotation: Rotation,
        now: Timestamp,
    ) -> Result<RotationOutcome, StoreError> {
        let outcome = self.inner.rotate_refresh(rotation, now).await?;
        if outcome == RotationOutcome::Reused {
            self.faults.moment(Moment::Reused).await;
        }
        Ok(outcome)
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.faults.revocation()?;
        self.inner.revoke_session(user, session, now).await
    }

    async fn revoke_session_by_refresh(
        &self,
        user: UserId,
        session: SessionId,
        refresh: &TokenHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let revoked = self
            .inner
            .revoke_session_by_refresh(user, session, refresh, now)
            .await?;
        if revoked {
            self.faults.moment(Moment::RevokedByRefresh).await;
        }
        Ok(revoked)
    }

    async fn revoke_user(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        self.faults.revocation()?;
        self.inner.revoke_user(user, now).await
    }

    async fn revoke_user_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.faults.revocation()?;
        self.inner.revoke_user_except(user, keep, now).await
    }

    async fn revoke_access_token(
        &self,
        user: UserId,
        session: SessionId,
        grant: AccessGrant,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner
            .revoke_access_token(user, session, grant, mode, now)
            .await
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.inner.list_sessions(user, now).await
    }

    async fn find_access_token(
        &self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Result<Option<(SessionId, Timestamp)>, StoreError> {
        self.inner.find_access_token(user, jti, now).await
    }
}

#[async_trait]
impl SessionRestore for FaultyStore {
    async fn restore_session(
        &self,
        restored: RestoredSession,
        now: Timestamp,
    ) -> Result<RestoreOutcome, StoreError> {
        self.inner.restore_session(restored, now).await
    }
}

#[async_trait]
impl RevocationCheck for FaultyStore {
    async fn check_access(
        &self,
        check: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<AccessStatus, StoreError> {
        self.inner.check_access(check, mode, now).await
    }
}

#[async_trait]
impl EventLog for FaultyStore {
    async fn push_event(
        &self,
        user: UserId,
        event: SecurityEventRecord,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner.push_event(user, event, now).await
    }

    async fn recent_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<SecurityEventRecord>, StoreError> {
        self.inner.recent_events(user, limit, before, now).await
    }
}

#[async_trait]
impl EphemeralStore for FaultyStore {
    async fn put_if_absent(
        &self,
        key: &EphemeralKey,
        value: &[u8],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.put_if_absent(key, value, ttl, now).await
    }

    async fn get(&self, key: &EphemeralKey, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(key, now).await
    }

    async fn take(
        &self,
        key: &EphemeralKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.take(key, now).await
    }

    async fn delete(&self, key: &EphemeralKey) -> Result<bool, StoreError> {
        self.inner.delete(key).await
    }

    async fn count_attempt(
        &self,
        key: &EphemeralKey,
        max: u32,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Attempts, StoreError> {
        self.inner.count_attempt(key, max, ttl, now).await
    }

    async fn throttle(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<Throttle, StoreError> {
        self.inner.throttle(key, rate, cost, now).await
    }

    async fn refund(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.refund(key, rate, cost, now).await
    }
}

#[async_trait]
impl UserMaps for FaultyStore {
    async fn map_put(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        value: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner
            .map_put(user, map, field, value, expires_at, now)
            .await
    }

    async fn map_get(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.map_get(user, map, field, now).await
    }

    async fn map_list(
        &self,
        user: UserId,
        map: &str,
        now: Timestamp,
    ) -> Result<Vec<(String, Vec<u8>, Timestamp)>, StoreError> {
        self.inner.map_list(user, map, now).await
    }

    async fn map_remove(&self, user: UserId, map: &str, field: &str) -> Result<bool, StoreError> {
        self.inner.map_remove(user, map, field).await
    }

    async fn map_clear(&self, user: UserId, map: &str) -> Result<u64, StoreError> {
        self.inner.map_clear(user, map).await
    }
}

#[async_trait]
impl StoreHealth for FaultyStore {
    async fn stats(&self, now: Timestamp) -> Result<StoreStats, StoreError> {
        self.inner.stats(now).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}
