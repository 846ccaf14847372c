//! Statistics batching: the changes each script reports (sessions opened or ended, grants
//! added or removed, tokens revoked) are gathered per process and written to the stats hash
//! by one background `HINCRBY` pipeline every [`STATS_FLUSH_AFTER`] (see "Statistics" in
//! `redis/mod.rs`; the background correction is `reconcile.rs`).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use redis::Value;

use super::RedisStore;
use crate::error::StoreError;
use crate::redis::error::protocol;
use crate::redis::keys::stats_key;
use crate::redis::reply;
use crate::redis::stats;

/// How long statistics changes are gathered before one `HINCRBY` pipeline writes them.
const STATS_FLUSH_AFTER: Duration = Duration::from_millis(50);

/// Statistics changes not yet written to the stats hash (shared by clones of one store).
#[derive(Debug, Default)]
pub(super) struct PendingStats {
    sessions: AtomicI64,
    grants: AtomicI64,
    revoked: AtomicI64,
    /// A flush task is scheduled.
    scheduled: AtomicBool,
    /// Held by a flush from taking the changes until they are written, so a flush that finds
    /// nothing pending (`stats()`) still waits for one in flight: a process reads its own
    /// changes.
    flushing: tokio::sync::Mutex<()>,
}

impl PendingStats {
    fn add(&self, d: Delta) {
        self.sessions.fetch_add(d.sessions, Ordering::SeqCst);
        self.grants.fetch_add(d.grants, Ordering::SeqCst);
        self.revoked.fetch_add(d.revoked, Ordering::SeqCst);
    }

    /// Takes everything pending (each change is taken exactly once).
    fn take(&self) -> Delta {
        Delta {
            sessions: self.sessions.swap(0, Ordering::SeqCst),
            grants: self.grants.swap(0, Ordering::SeqCst),
            revoked: self.revoked.swap(0, Ordering::SeqCst),
        }
    }
}

/// Changes to the global statistics reported by a script (see `prelude.lua`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Delta {
    sessions: i64,
    grants: i64,
    revoked: i64,
}

impl Delta {
    /// The reply carries sessions, grants and revoked tokens.
    pub(super) const SGR: (bool, bool, bool) = (true, true, true);
    /// The reply carries grants and revoked tokens.
    pub(super) const GR: (bool, bool, bool) = (false, true, true);
    /// The reply carries sessions only.
    pub(super) const S: (bool, bool, bool) = (true, false, false);
    /// The reply carries sessions and grants.
    pub(super) const SG: (bool, bool, bool) = (true, true, false);

    /// Reads the fields named by `which` (in the order sessions, grants, revoked).
    pub(super) fn read(
        items: &mut impl Iterator<Item = Value>,
        which: (bool, bool, bool),
    ) -> Result<Self, StoreError> {
        let mut field = |present: bool| -> Result<i64, StoreError> {
            if !present {
                return Ok(0);
            }
            let v = items
                .next()
                .ok_or_else(|| protocol("missing statistics change"))?;
            reply::int(&v)
        };
        Ok(Self {
            sessions: field(which.0)?,
            grants: field(which.1)?,
            revoked: field(which.2)?,
        })
    }
}

impl RedisStore {
    /// Records a script's statistics changes. They are not written on the request path:
    /// changes are gathered for [`STATS_FLUSH_AFTER`] and written by one background
    /// `HINCRBY` pipeline, so a login, refresh or logout is one round trip and a busy server
    /// sends one statistics write per interval, not one per request. `stats()` and
    /// `reconcile_stats()` write what is pending first, so this process always reads its own
    /// changes. Best-effort as before: a failed write (or a process killed within the
    /// interval) loses those changes, which the reconciliation corrects.
    pub(super) async fn count(&self, d: Delta) {
        if d == Delta::default() {
            return;
        }
        self.pending.add(d);
        if !self.pending.scheduled.swap(true, Ordering::SeqCst) {
            let store = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(STATS_FLUSH_AFTER).await;
                store.pending.scheduled.store(false, Ordering::SeqCst);
                store.flush_stats().await;
            });
        }
    }

    /// Writes the pending statistics changes now (one pipeline, nothing when none), after any
    /// flush already in flight has written its own.
    pub(super) async fn flush_stats(&self) {
        let _flushing = self.pending.flushing.lock().await;
        let d = self.pending.take();
        if d == Delta::default() {
            return;
        }
        let key = stats_key(&self.prefix);
        let mut pipe = redis::pipe();
        for (field, by) in [
            (stats::SESSIONS, d.sessions),
            (stats::GRANTS, d.grants),
            (stats::REVOKED, d.revoked),
        ] {
            if by != 0 {
                pipe.cmd("HINCRBY").arg(&key).arg(field).arg(by).ignore();
            }
        }
        let mut conn = self.conn.clone();
        if let Err(e) = self.bounded(pipe.query_async::<()>(&mut conn)).await {
            tracing::warn!(error = %e.chain(), "statistics counters not updated");
        }
    }
}
