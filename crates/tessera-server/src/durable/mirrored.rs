//! [`MirroredStore`]: the state store with its durable copy kept beside it.

use std::sync::Arc;

use async_trait::async_trait;
use std::time::Duration;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::refresh::TokenHash;
use tessera_core::time::Timestamp;

use tessera_store::*;

use super::DurableSessions;
use super::rows::{FamilyState, SessionRow};
use crate::accounts::{DbError, Users};

/// A [`StateStore`] that forwards every call to `inner` (still the one fast path: SQL is
/// never read while the store answers) and keeps the durable copy:
///
/// | call | durable copy |
/// |---|---|
/// | `create_session` | the row written (evicted sessions' rows deleted, then those sessions revoked in the store again) before it returns; if SQL fails, the new session is revoked in the store, the evicted rows are deleted by the next flush, and the call fails (503) |
/// | `rotate_refresh` → `Rotated` | the new family state queued (written behind, [`DurableSessions::queue`]) |
/// | `rotate_refresh` → `Reused` | the row deleted before it returns, then the session revoked in the store again (a restore that read the row before may have put it back); if SQL fails: deleted by the next flush, and never restored meanwhile |
/// | `rotate_refresh` → `Invalid` | the restore path: the row read; alive → put back ([`SessionRestore`], only if absent) and the rotation retried once |
/// | `revoke_session`, `revoke_user`, `revoke_user_except` | rows deleted **before** the store is asked |
/// | `revoke_session_by_refresh` | the store first (its script judges the proof); a session the store lost is restored first (as a refresh would restore it) and judged then; then the row deleted and the session revoked in the store again |
/// | `revoke_access_token` (denylist mode) | the jti recorded before the store is asked |
///
/// A revocation whose SQL write fails fails (503) without touching the store, so a
/// revocation is never answered while it could come back.
pub struct MirroredStore {
    inner: Arc<dyn StateStore>,
    durable: Arc<DurableSessions>,
    users: Users,
}

impl std::fmt::Debug for MirroredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MirroredStore")
            .field("backend", &self.inner.backend())
            .finish_non_exhaustive()
    }
}

fn sql(e: DbError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

/// What [`MirroredStore::restore`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restore {
    /// The session is back in the store, from its row.
    Back,
    /// The store already had a record of it (a concurrent request restored it first, or
    /// it is alive, or its tombstone is there): nothing written, the store decides.
    Present,
    /// Not restored: no row, or the copy says it is dead (expired, banned, signed out).
    No,
}

impl MirroredStore {
    /// `inner` with the copy in `durable`; `users` gives the durable token versions.
    pub fn new(inner: Arc<dyn StateStore>, durable: Arc<DurableSessions>, users: Users) -> Self {
        Self {
            inner,
            durable,
            users,
        }
    }

    /// Deletes the row of a session the store has just revoked on its own (theft, RFC 7009)
    /// and then revokes it in the store again: a restore that read the row before its
    /// deletion may have put the session back meanwhile. The session is marked forgotten
    /// first, so a restore from then on is refused and one that already wrote sees the mark
    /// when it checks again; when SQL fails the mark stays (the next flush deletes the row)
    /// and the store is revoked again all the same.
    async fn forget_revoked(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.durable.forget_later(user, session);
        let deleted = self.durable.rows().forget_session(user, session).await;
        self.revoke_again(user, session, now).await;
        match deleted {
            Ok(_) => {
                self.durable.forgot(session);
                Ok(())
            }
            Err(e) => {
                self.durable.metrics.durable_write_failure();
                tracing::warn!(error = %tessera_store::error::chain_of(&e), %session, "durable mirror: a revoked session's row is deleted later");
                Err(sql(e))
            }
        }
    }

    /// Revokes in the store a session whose row is gone, in case a racing restore put it
    /// back; a failure is logged (the restore's own re-read of the row revokes it too).
    async fn revoke_again(&self, user: UserId, session: SessionId, now: Timestamp) {
        if let Err(e) = self.inner.revoke_session(user, session, now).await {
            tracing::warn!(error = %e.chain(), %session, "durable mirror: revoking a session again after deleting its row failed");
        }
    }

    /// Puts every live session of the copy back into the store (only where it has no record
    /// of it, with the same checks as a refresh's restore); returns how many came back. For
    /// the embedded default at start: its in-process store began empty, and without this a
    /// session would come back only with its first refresh (its access tokens, in denylist
    /// mode, and `GET /v1/sessions` would miss it until then).
    pub async fn restore_all(&self, now: Timestamp) -> Result<u64, StoreError> {
        const PAGE: i64 = 500;
        let mut after = None;
        let mut restored = 0;
        loop {
            let page = self
                .durable
                .rows()
                .live_sessions(after, PAGE, now)
                .await
                .map_err(sql)?;
            for (user, session) in &page {
                if self.restore(*user, *session, now).await? == Restore::Back {
                    restored += 1;
                }
            }
            match page.last() {
                Some((_, last)) if page.len() == usize::try_from(PAGE).unwrap_or(usize::MAX) => {
                    after = Some(*last);
                }
                _ => return Ok(restored),
            }
        }
    }

    /// The restore path of a refresh the store found `Invalid`: when SQL has the session
    /// alive, put it back (only if the store has no record of it) and say what happened.
    /// The newest family state is the queued one when a rotation of it is still waiting.
    async fn restore(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<Restore, StoreError> {
        if self.durable.forgotten(session) {
            return Ok(Restore::No);
        }
        let Some(mut restored) = self
            .durable
            .rows()
            .load(user, session, now)
            .await
            .map_err(sql)?
        else {
            return Ok(Restore::No);
        };
        let Some(account) = self.users.by_id(user).await.map_err(sql)? else {
            return Ok(Restore::No);
        };
        if account.disabled_at.is_some() {
            return Ok(Restore::No);
        }
        restored.token_version = account.token_version.max(restored.opened_under);
        if account.token_version > restored.opened_under {
            // Signed out everywhere (or a password change) after it was opened.
            return Ok(Restore::No);
        }
        if let Some(f) = self.durable.queued(session)
            && restored.refresh_generation.is_none_or(|n| n < f.generation)
        {
            restored.current = f.current;
            restored.previous = Some(f.previous);
            restored.seed = Some(f.seed);
            restored.refresh_generation = Some(f.generation);
            restored.last_seen = f.last_seen;
            restored.idle_timeout = f.idle;
        }
        let denied = restored.denied.clone();
        match self.inner.restore_session(restored, now).await? {
            RestoreOutcome::Restored => {}
            RestoreOutcome::Present => return Ok(Restore::Present),
            RestoreOutcome::Dead => return Ok(Restore::No),
        }
        // A revocation that raced the restore (its SQL write after our read, its store write
        // before ours) is applied again, so nothing comes back.
        let again = if self.durable.forgotten(session) {
            // Revoked by this process meanwhile, its row's deletion pending or failed.
            Ok(None)
        } else {
            self.durable.rows().load(user, session, now).await
        };
        match again {
            Ok(Some(again)) => {
                for grant in again.denied.iter().filter(|g| !denied.contains(g)) {
                    self.inner
                        .revoke_access_token(user, session, *grant, RevocationMode::Denylist, now)
                        .await?;
                }
            }
            Ok(None) | Err(_) => {
                self.inner.revoke_session(user, session, now).await?;
                return Ok(Restore::No);
            }
        }
        self.durable.metrics.durable_restore();
        tracing::info!(%user, %session, "session restored into the state store from its durable copy");
        Ok(Restore::Back)
    }
}

#[async_trait]
impl SessionStore for MirroredStore {
    async fn create_session(
        &self,
        new: NewSession,
        now: Timestamp,
    ) -> Result<CreatedSession, StoreError> {
        let row = SessionRow {
            user: new.user,
            session: new.session,
            created_at: now,
            idle: new.limits.idle_timeout,
            absolute_expiry: new.limits.absolute_expiry,
            opened_under: 0,
            current: StoredHash::of(&new.refresh),
            attributes: new.attributes.clone(),
            binding: new.binding.as_ref().map(StoredHash::of),
        };
        let created = self.inner.create_session(new, now).await?;
        let row = SessionRow {
            opened_under: created.token_version,
            ..row
        };
        if let Err(e) = self.durable.rows().open(&row, &created.evicted).await {
            self.durable.metrics.durable_write_failure();
            if let Err(r) = self.inner.revoke_session(row.user, row.session, now).await {
                tracing::warn!(error = %r.chain(), session = %row.session, "a session without its durable copy could not be revoked");
            }
            // The store evicted these already; their rows go with the next flush, and a
            // restore that raced the eviction is undone.
            for s in &created.evicted {
                self.durable.forget_later(row.user, *s);
                self.revoke_again(row.user, *s, now).await;
            }
            return Err(sql(e));
        }
        for s in &created.evicted {
            self.durable.unqueue(*s);
            self.revoke_again(row.user, *s, now).await;
        }
        Ok(created)
    }

    async fn rotate_refresh(
        &self,
        rotation: Rotation,
        now: Timestamp,
    ) -> Result<RotationOutcome, StoreError> {
        let mut outcome = self.inner.rotate_refresh(rotation.clone(), now).await?;
        // Only a tagged token is worth a SQL read: its MAC proves this server issued it for
        // that user and session. A legacy (untagged) token's ids are not authenticated, so
        // a forged one would cost a read each; a legacy session lost with the store signs
        // in again.
        // Asked again also when the store has a record now: a concurrent refresh of the
        // same lost session restored it first (this one is then its grace replay).
        if outcome == RotationOutcome::Invalid
            && rotation.generation.is_some()
            && self.restore(rotation.user, rotation.session, now).await? != Restore::No
        {
            outcome = self.inner.rotate_refresh(rotation.clone(), now).await?;
        }
        match &outcome {
            RotationOutcome::Rotated { .. } => self.durable.queue(
                rotation.session,
                FamilyState {
                    current: StoredHash::of(&rotation.successor),
                    previous: StoredHash::of(&rotation.presented),
                    seed: rotation.seed,
                    generation: rotation.successor_generation,
                    last_seen: now,
                    idle: rotation.idle_timeout,
                },
                now,
            ),
            RotationOutcome::Reused => {
                // The store has already revoked it: answer the theft whatever SQL says.
                self.forget_revoked(rotation.user, rotation.session, now)
                    .await
                    .ok();
            }
            RotationOutcome::GraceReplay { .. } | RotationOutcome::Invalid => {}
        }
        Ok(outcome)
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        // Only `user`'s row, and only its queued state: the id may name another user's
        // session, which this call must leave alone (the store's answer is then `false`).
        let had_row = self
            .durable
            .rows()
            .forget_session(user, session)
            .await
            .map_err(sql)?;
        if had_row {
            self.durable.unqueue(session);
        }
        self.inner.revoke_session(user, session, now).await
    }

    async fn revoke_session_by_refresh(
        &self,
        user: UserId,
        session: SessionId,
        refresh: &TokenHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let by_proof = || async {
            match self
                .inner
                .revoke_session_by_refresh(user, session, refresh, now)
                .await
            {
                // Revoked on the master, not confirmed on its replicas: the answer is 503
                // and the client retries, but the row goes now. Kept, it would put the
                // session back for a retry that finds the store's tombstone (and so
                // answers "nothing to revoke"), or after a failover that lost the write.
                Err(e) if e.revoked_unconfirmed() => {
                    if let Err(f) = self.forget_revoked(user, session, now).await {
                        tracing::warn!(error = %f.chain(), %session, "durable mirror: an unconfirmed revocation's row is deleted later");
                    }
                    Err(e)
                }
                other => other,
            }
        };
        let mut revoked = by_proof().await?;
        // The store may have lost the session: put it back as a refresh would (same checks,
        // this process's newest queued state) and let the store's script judge the proof.
        if !revoked && self.restore(user, session, now).await? != Restore::No {
            revoked = by_proof().await?;
        }
        if revoked {
            self.forget_revoked(user, session, now).await?;
        }
        Ok(revoked)
    }

    async fn revoke_user(&self, user: UserId, now: Timestamp) -> Result<u64, StoreError> {
        self.durable
            .rows()
            .forget_user(user, None)
            .await
            .map_err(sql)?;
        self.inner.revoke_user(user, now).await
    }

    async fn revoke_user_except(
        &self,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.durable
            .rows()
            .forget_user(user, Some(keep))
            .await
            .map_err(sql)?;
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
        if mode == RevocationMode::Denylist {
            self.durable
                .rows()
                .deny(user, session, grant)
                .await
                .map_err(sql)?;
        }
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
impl SessionRestore for MirroredStore {
    async fn restore_session(
        &self,
        r: RestoredSession,
        now: Timestamp,
    ) -> Result<RestoreOutcome, StoreError> {
        self.inner.restore_session(r, now).await
    }
}

#[async_trait]
impl RevocationCheck for MirroredStore {
    async fn check_access(
        &self,
        c: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<AccessStatus, StoreError> {
        self.inner.check_access(c, mode, now).await
    }
}

#[async_trait]
impl EventLog for MirroredStore {
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
impl EphemeralStore for MirroredStore {
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
impl UserMaps for MirroredStore {
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
impl StoreHealth for MirroredStore {
    async fn stats(&self, now: Timestamp) -> Result<StoreStats, StoreError> {
        self.inner.stats(now).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn breaker(&self) -> Option<BreakerState> {
        self.inner.breaker()
    }
}
