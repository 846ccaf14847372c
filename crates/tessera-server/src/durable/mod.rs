//! The durable copy of the session state in SQL (`TESSERA_DURABLE_SESSIONS=on`): losing the
//! state store (a `FLUSHALL`, a Redis restart without persistence, a failover to an empty
//! replica, a restart of the process holding the memory store) signs nobody out and revives
//! nothing. docs/ARCHITECTURE.md, "Durable state", states the whole model; in short:
//!
//! - [`rows`]: the SQL (migration 0006): one row per live session (its family state
//!   included) and the denylist-mode revoked access tokens;
//! - [`mirrored`]: [`MirroredStore`], a [`StateStore`](tessera_store::StateStore) over the
//!   real one that writes the copy: sign-in and every revocation durably before answering,
//!   rotations behind (queued here), and that restores a session the store lost when a
//!   refresh finds it missing;
//! - [`writer`]: the background tasks: the write-behind flush (at least every
//!   `TESSERA_DURABLE_LAG`) and the expiry sweep;
//! - [`judge`]: a refresh judged by the copy before the store is asked, so a state store
//!   that comes back with older data does not revive a revoked session or a rotated-away
//!   token.

pub mod judge;
pub mod mirrored;
pub mod rows;
pub mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tessera_core::ids::{SessionId, UserId};
use tessera_core::time::Timestamp;

pub use mirrored::MirroredStore;
use rows::{FamilyState, Rows};

use tessera_store::error::chain_of;

use crate::app_metrics::Metrics;

/// At most this many sessions wait for their family state to be written. A rotation of a
/// session already waiting replaces its entry (only the newest state matters), so this
/// bounds distinct sessions rotated within one lag, not rotations.
pub const QUEUE_CAPACITY: usize = 100_000;

/// Rotations waiting to be written, newest family state per session, and when the oldest
/// of them was queued (the mirror's lag).
///
/// Invariant: a session's newest family state not yet committed to SQL is in `families` or
/// `writing` (a flush moves it from one to the other and drops it only after its
/// transaction commits), so [`DurableSessions::queued`] never answers with an older state
/// than SQL will hold.
#[derive(Default)]
struct Pending {
    families: HashMap<SessionId, FamilyState>,
    /// Taken by a flush whose transaction has not committed yet.
    writing: HashMap<SessionId, FamilyState>,
    oldest: Option<Timestamp>,
    /// Sessions the store revoked on its own (theft, RFC 7009, eviction) whose row could not
    /// be deleted then: deleted by the next flush, never restored meanwhile.
    forget: HashMap<SessionId, UserId>,
}

impl Pending {
    /// Puts `state` back as `session`'s waiting state unless a newer one waits, within the
    /// queue's bound; `false` when the bound dropped it.
    fn put_back(&mut self, session: SessionId, state: FamilyState) -> bool {
        let len = self.families.len();
        match self.families.get_mut(&session) {
            Some(newer) if newer.generation >= state.generation => true,
            Some(older) => {
                *older = state;
                true
            }
            None if len >= QUEUE_CAPACITY => false,
            None => {
                self.families.insert(session, state);
                true
            }
        }
    }
}

/// The durable copy: its tables, the write-behind queue and the metrics it reports.
pub struct DurableSessions {
    rows: Rows,
    pending: Mutex<Pending>,
    lag: Duration,
    metrics: Metrics,
}

impl std::fmt::Debug for DurableSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DurableSessions")
            .field("lag", &self.lag)
            .finish_non_exhaustive()
    }
}

impl DurableSessions {
    /// The copy in `rows`, flushed at least every `lag` by [`writer::spawn`].
    pub fn new(rows: Rows, lag: Duration, metrics: Metrics) -> Self {
        Self {
            rows,
            pending: Mutex::new(Pending::default()),
            lag,
            metrics,
        }
    }

    /// The tables.
    pub fn rows(&self) -> &Rows {
        &self.rows
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queues a rotation's family state, replacing an older one of the same session. Never
    /// blocks on SQL; a full queue drops the state (counted and logged: that session's copy
    /// stays one or more rotations old until its next rotation).
    pub fn queue(&self, session: SessionId, state: FamilyState, now: Timestamp) {
        let mut p = self.lock();
        if !p.put_back(session, state) {
            drop(p);
            self.metrics.durable_overflow();
            tracing::warn!(%session, "durable mirror queue full: a rotation was not queued");
            return;
        }
        p.oldest.get_or_insert(now);
    }

    /// The newest family state of `session` not yet committed to SQL, if a rotation of it
    /// is waiting or being written.
    pub fn queued(&self, session: SessionId) -> Option<FamilyState> {
        let p = self.lock();
        match (p.families.get(&session), p.writing.get(&session)) {
            (Some(a), Some(b)) => Some(if a.generation >= b.generation { *a } else { *b }),
            (a, b) => a.or(b).copied(),
        }
    }

    /// Drops what is queued for `session` (it was revoked: its row is gone anyway).
    pub fn unqueue(&self, session: SessionId) {
        let mut p = self.lock();
        p.families.remove(&session);
        p.writing.remove(&session);
    }

    /// Marks `session`'s row for deletion by the next flush (its immediate deletion failed)
    /// and keeps it from being restored until then.
    pub fn forget_later(&self, user: UserId, session: SessionId) {
        let mut p = self.lock();
        p.families.remove(&session);
        p.writing.remove(&session);
        p.forget.insert(session, user);
    }

    /// `session`'s row is deleted: lifts [`forget_later`](Self::forget_later)'s mark.
    pub fn forgot(&self, session: SessionId) {
        self.lock().forget.remove(&session);
    }

    /// Whether `session` waits for its row to be deleted.
    pub fn forgotten(&self, session: SessionId) -> bool {
        self.lock().forget.contains_key(&session)
    }

    /// Writes everything queued, in one transaction. The states stay visible to
    /// [`queued`](Self::queued) until it commits; on failure they go back into the queue
    /// (unless a newer one arrived meanwhile, and within the queue's bound) for the next
    /// flush.
    pub async fn flush(&self, now: Timestamp) {
        let (batch, oldest) = {
            let mut p = self.lock();
            let batch: Vec<(SessionId, FamilyState)> = p.families.drain().collect();
            for (s, f) in &batch {
                p.writing.insert(*s, *f);
            }
            (batch, p.oldest.take())
        };
        // Sampled here, not per rotation: a rotation costs no metric update.
        self.metrics.durable_queue(batch.len());
        let forget: Vec<(SessionId, UserId)> =
            self.lock().forget.iter().map(|(s, u)| (*s, *u)).collect();
        for (session, user) in forget {
            match self.rows.forget_session(user, session).await {
                Ok(_) => {
                    self.lock().forget.remove(&session);
                }
                Err(e) => {
                    self.metrics.durable_write_failure();
                    tracing::warn!(error = %chain_of(&e), %session, "durable mirror: deleting a revoked session's row failed; retrying");
                    break;
                }
            }
        }
        if batch.is_empty() {
            self.metrics.durable_lag(Duration::ZERO);
            return;
        }
        let written = self.rows.write_families(&batch).await;
        let mut p = self.lock();
        // This flush's entries still in `writing`: a revocation may have unqueued one (its
        // row is gone), a later flush may have taken a newer state of another.
        let mut mine = Vec::with_capacity(batch.len());
        for (s, f) in batch {
            if p.writing
                .get(&s)
                .is_some_and(|w| w.generation == f.generation)
            {
                p.writing.remove(&s);
                mine.push((s, f));
            }
        }
        match written {
            Ok(()) => {
                drop(p);
                let lag = oldest.map_or(Duration::ZERO, |t| t.until(now));
                self.metrics.durable_lag(lag);
            }
            Err(e) => {
                let mut dropped = 0_usize;
                for (s, f) in mine {
                    if !p.put_back(s, f) {
                        dropped += 1;
                    }
                }
                if let Some(t) = oldest {
                    p.oldest = Some(p.oldest.map_or(t, |o| o.min(t)));
                }
                let len = p.families.len();
                drop(p);
                self.metrics.durable_write_failure();
                self.metrics.durable_queue(len);
                tracing::warn!(error = %chain_of(&e), sessions = len, "durable mirror: writing rotations failed; retrying at the next flush");
                if dropped > 0 {
                    for _ in 0..dropped {
                        self.metrics.durable_overflow();
                    }
                    tracing::warn!(
                        dropped,
                        "durable mirror queue full: rotations of a failed flush were not queued again"
                    );
                }
            }
        }
    }
}
