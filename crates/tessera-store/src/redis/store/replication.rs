//! Revocations replicated before they are answered (Sentinel): a failover must not promote
//! a replica that lacks a revocation the client was told had happened. Issue 13 measured
//! exactly that: a session logged out while the replica had not received the write (link
//! cut, master killed, replica promoted) answered 200 again.
//!
//! After each revocation script that revoked something live, [`RedisStore::replicated`]
//! waits (`WAIT`, on a connection of its own: see `sentinel/conn.rs`) until every replica
//! the sentinels would promote now has acknowledged it (each by its own offset: a replica
//! that can never be promoted does not stand in for one that can), and refuses when the
//! master was switched meanwhile. When one does not acknowledge in time, the revocation — already applied on the
//! master — is answered as failed ([`StoreError::Unavailable`]): the client retries, and
//! nothing is reported done that a failover could undo (a theft revocation is the
//! exception: its answer stands and the lag is logged, see `sessions.rs`). With no
//! promotable replica (a
//! single node, or a replica that is down) there is nothing to wait for: no failover can
//! happen. Standalone and Cluster do not wait (Cluster: see docs/ARCHITECTURE.md, "What
//! remains").
//!
//! Cost: one round trip to the master plus one replica acknowledgement per revocation, at
//! most: barriers run one at a time and concurrent revocations share one ([`Barriers`]), so
//! a burst of revocations does not queue behind a wait each. A revocation of nothing does
//! not wait (every refresh of a revoked session makes one); so a retry of a revocation
//! answered 503 can be answered before its first write is replicated (the durable copy,
//! which deleted the session's row, still refuses its refresh). The hot path (refresh,
//! `check_access`) never waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::RedisStore;
use crate::error::StoreError;
use crate::redis::conn::Conn;

/// The longest a revocation waits for its replicas (bounded again by half the operation
/// timeout; the barrier connection's own response timeout is longer).
pub(crate) const REPLICATION_WAIT: Duration = Duration::from_secs(1);

/// A revocation the promotable replicas did not acknowledge in time.
#[derive(Debug, thiserror::Error)]
#[error(
    "the revocation reached the Redis master but {acked} of the {needed} replicas Sentinel \
     would promote acknowledged it within {wait:?}; answered as failed, since a failover now \
     would undo it"
)]
pub(crate) struct NotReplicated {
    /// Replicas that had to acknowledge.
    pub(crate) needed: usize,
    /// Replicas that did.
    pub(crate) acked: usize,
    /// How long it waited.
    pub(crate) wait: Duration,
}

/// The master changed while a revocation was being written and replicated: it may be on
/// the old master only.
#[derive(Debug, thiserror::Error)]
#[error("the Redis master changed while the revocation was written; answered as failed")]
pub(crate) struct MasterSwitched;

impl RedisStore {
    /// The count of master switches so far (Sentinel; 0 otherwise): read before a
    /// revocation's script, handed to [`replicated`](Self::replicated).
    pub(super) fn switches(&self) -> u64 {
        match &self.conn {
            Conn::Sentinel(conn) => conn.switches(),
            _ => 0,
        }
    }

    /// Waits until the revocations this process has written are held by every replica a
    /// failover could promote (Sentinel only; module docs).
    /// `since`: [`switches`](Self::switches) as read before the revocation's script.
    ///
    /// Barriers are shared ([`Barriers`]): a caller whose script ran before a barrier that
    /// has since succeeded (on the same master) is covered by it and does not run its own,
    /// so any number of concurrent revocations cost at most two barriers in a row, and a
    /// flood of revocations that find nothing cannot queue real ones behind their waits.
    pub(super) async fn replicated(&self, since: u64) -> Result<(), StoreError> {
        let Conn::Sentinel(conn) = &self.conn else {
            return Ok(());
        };
        // Barriers numbered above this one start after this caller's script finished.
        let ticket = self.barriers.started.load(Ordering::SeqCst);
        // Bounded: a barrier stuck on a master that stopped answering holds the turn for
        // at most one operation timeout, and no caller waits longer than that for it.
        let Ok(_turn) =
            tokio::time::timeout(self.operation_timeout, self.barriers.turn.lock()).await
        else {
            return Err(StoreError::Unavailable(Box::new(NotReplicated {
                needed: 1,
                acked: 0,
                wait: self.operation_timeout,
            })));
        };
        if self.barriers.succeeded.load(Ordering::SeqCst) > ticket && conn.switches() == since {
            return Ok(());
        }
        let mine = self.barriers.started.fetch_add(1, Ordering::SeqCst) + 1;
        let wait = REPLICATION_WAIT.min(self.operation_timeout / 2);
        let key = format!("{}replicated", self.prefix);
        let r = self
            .bounded_unjudged(conn.replicated(&key, wait, since))
            .await?;
        if r.switched {
            return Err(StoreError::Unavailable(Box::new(MasterSwitched)));
        }
        if r.acked < r.needed {
            return Err(StoreError::Unavailable(Box::new(NotReplicated {
                needed: r.needed,
                acked: r.acked,
                wait,
            })));
        }
        self.barriers.succeeded.fetch_max(mine, Ordering::SeqCst);
        Ok(())
    }
}

/// The replication barriers of one store, run one at a time and shared: barrier `n` is
/// the `n`-th started; a barrier records that the master's offset when it started was held
/// by every promotable replica, so it covers every write made before it started.
#[derive(Debug, Default)]
pub(crate) struct Barriers {
    /// One barrier at a time (`WAIT` blocks the barrier connection anyway).
    turn: tokio::sync::Mutex<()>,
    /// How many barriers have started.
    started: AtomicU64,
    /// The number of the newest barrier that succeeded.
    succeeded: AtomicU64,
}
