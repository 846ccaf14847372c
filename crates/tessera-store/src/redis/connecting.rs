//! Starting without Redis: a store that connects in the background.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;

use super::config::RedisConfig;
use super::store::RedisStore;
use crate::ephemeral::{Attempts, EphemeralKey, Rate, Throttle};
use crate::error::StoreError;
use crate::model::*;
use crate::store::{
    BreakerState, EphemeralStore, EventLog, RevocationCheck, SessionRestore, SessionStore,
    StateStore, StoreHealth, UserMaps,
};

/// Redis has not been reached since start.
#[derive(Debug, thiserror::Error)]
#[error("not connected to Redis yet")]
struct NotConnectedYet;

/// A [`StateStore`] for a Redis that was unreachable at start: every call answers
/// [`StoreError::Unavailable`] (so requests fail closed and `/readyz` says not ready) while a
/// background task retries the connection with exponential backoff (0.5 s doubling to 10 s);
/// once connected, calls go to the [`RedisStore`], which from then on reconnects by itself.
/// A permanent error ([`StoreError::Incompatible`]: a Redis older than 7.0) is not retried:
/// at start it is returned, later it is logged and the store stays unavailable until the
/// process is restarted against a usable Redis.
#[derive(Clone)]
pub struct ConnectingStore {
    inner: Arc<OnceLock<RedisStore>>,
}

impl ConnectingStore {
    /// Connects now if Redis answers, else starts the background retries. Once connected,
    /// the statistics reconciler (when `Some`) runs every `reconcile_every` (see
    /// [`RedisStore::spawn_stats_reconciler`]). Fails only with a permanent error (see
    /// [`StoreError::is_permanent`]).
    pub async fn connect(
        config: RedisConfig,
        reconcile_every: Option<Duration>,
    ) -> Result<Arc<dyn StateStore>, StoreError> {
        match RedisStore::connect(config.clone()).await {
            Ok(store) => {
                if let Some(every) = reconcile_every {
                    store.spawn_stats_reconciler(every);
                }
                Ok(Arc::new(store))
            }
            Err(e) if e.is_permanent() => Err(e),
            Err(e) => {
                tracing::error!(error = %e.chain(), "Redis unreachable at start; retrying in the background");
                let inner = Arc::new(OnceLock::new());
                let cell = Arc::clone(&inner);
                tokio::spawn(async move {
                    let mut wait = Duration::from_millis(500);
                    loop {
                        tokio::time::sleep(wait).await;
                        match RedisStore::connect(config.clone()).await {
                            Ok(store) => {
                                if let Some(every) = reconcile_every {
                                    store.spawn_stats_reconciler(every);
                                }
                                let _ = cell.set(store);
                                tracing::info!("connected to Redis");
                                return;
                            }
                            Err(e) if e.is_permanent() => {
                                tracing::error!(error = %e.chain(), "Redis cannot be used; not retrying (restart once it is fixed)");
                                return;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e.chain(), retry_in = ?wait, "Redis still unreachable");
                                wait = (wait * 2).min(Duration::from_secs(10));
                            }
                        }
                    }
                });
                Ok(Arc::new(ConnectingStore { inner }))
            }
        }
    }

    fn store(&self) -> Result<&RedisStore, StoreError> {
        self.inner
            .get()
            .ok_or_else(|| StoreError::Unavailable(Box::new(NotConnectedYet)))
    }
}

#[async_trait]
impl SessionStore for ConnectingStore {
    async fn create_session(
        &self,
        new: NewSession,
        now: Timestamp,
    ) -> Result<CreatedSession, StoreError> {
        self.store()?.create_session(new, now).await
    }

    async fn rotate_refresh(
        &self,
        r: Rotation,
        now: Timestamp,
    ) -> Result<RotationOutcome, StoreError> {
        self.store()?.rotate_refresh(r, now).await
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.store()?.revoke_session(user, session, now).await
    }

    async fn revoke_session_by_refresh(
        &self,
        user: UserId,
        session: SessionId,
        refresh: &TokenHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.store()?
            .revoke_session_by_refresh(user, session, refresh, now)
            .await
    }

    async fn revoke_user(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        self.store()?.revoke_user(user, now).await
    }

    async fn revoke_user_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.store()?.revoke_user_except(user, keep, now).await
    }

    async fn revoke_access_token(
        &self,
        user: UserId,
        session: SessionId,
        grant: AccessGrant,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.store()?
            .revoke_access_token(user, session, grant, mode, now)
            .await
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        self.store()?.list_sessions(user, now).await
    }

    async fn find_access_token(
        &self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Result<Option<(SessionId, Timestamp)>, StoreError> {
        self.store()?.find_access_token(user, jti, now).await
    }
}

#[async_trait]
impl SessionRestore for ConnectingStore {
    async fn restore_session(
        &self,
        r: RestoredSession,
        now: Timestamp,
    ) -> Result<RestoreOutcome, StoreError> {
        self.store()?.restore_session(r, now).await
    }
}

#[async_trait]
impl RevocationCheck for ConnectingStore {
    async fn check_access(
        &self,
        c: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<AccessStatus, StoreError> {
        self.store()?.check_access(c, mode, now).await
    }
}

#[async_trait]
impl EventLog for ConnectingStore {
    async fn push_event(
        &self,
        user: UserId,
        event: SecurityEventRecord,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.store()?.push_event(user, event, now).await
    }

    async fn recent_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<SecurityEventRecord>, StoreError> {
        self.store()?.recent_events(user, limit, before, now).await
    }
}

#[async_trait]
impl EphemeralStore for ConnectingStore {
    async fn put_if_absent(
        &self,
        key: &EphemeralKey,
        value: &[u8],
        ttl: Duration,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.store()?.put_if_absent(key, value, ttl, now).await
    }

    async fn get(&self, key: &EphemeralKey, now: Timestamp) -> Result<Option<Vec<u8>>, StoreError> {
        self.store()?.get(key, now).await
    }

    async fn take(
        &self,
        key: &EphemeralKey,
        now: Timestamp,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.store()?.take(key, now).await
    }

    async fn delete(&self, key: &EphemeralKey) -> Result<bool, StoreError> {
        self.store()?.delete(key).await
    }

    async fn count_attempt(
        &self,
        key: &EphemeralKey,
        max: u32,
        ttl: Duration,
        now: Timestamp,
    ) -> Result<Attempts, StoreError> {
        self.store()?.count_attempt(key, max, ttl, now).await
    }

    async fn throttle(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<Throttle, StoreError> {
        self.store()?.throttle(key, rate, cost, now).await
    }

    async fn refund(
        &self,
        key: &EphemeralKey,
        rate: Rate,
        cost: u32,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.store()?.refund(key, rate, cost, now).await
    }
}

#[async_trait]
impl UserMaps for ConnectingStore {
    async fn map_put(
        &self,
        user: UserId,
        map: &str,
        field: &str,
        value: &[u8],
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.store()?
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
        self.store()?.map_get(user, map, field, now).await
    }

    async fn map_list(
        &self,
        user: UserId,
        map: &str,
        now: Timestamp,
    ) -> Result<Vec<(String, Vec<u8>, Timestamp)>, StoreError> {
        self.store()?.map_list(user, map, now).await
    }

    async fn map_remove(&self, user: UserId, map: &str, field: &str) -> Result<bool, StoreError> {
        self.store()?.map_remove(user, map, field).await
    }

    async fn map_clear(&self, user: UserId, map: &str) -> Result<u64, StoreError> {
        self.store()?.map_clear(user, map).await
    }
}

#[async_trait]
impl StoreHealth for ConnectingStore {
    async fn stats(&self, now: Timestamp) -> Result<StoreStats, StoreError> {
        self.store()?.stats(now).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.store()?.ping().await
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    fn breaker(&self) -> Option<BreakerState> {
        self.store().ok()?.breaker()
    }
}
