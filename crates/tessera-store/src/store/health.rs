//! [`StoreHealth`]: statistics and liveness, for health pages and metrics.

use async_trait::async_trait;
use tessera_core::time::Timestamp;

use crate::error::StoreError;
use crate::model::StoreStats;

/// What operators see of the store: figures, a liveness probe, the backend's name.
#[async_trait]
pub trait StoreHealth: Send + Sync {
    /// Store-wide statistics. Never an O(N) scan over user data: the memory backend counts
    /// its own maps; Redis reads maintained counters plus `INFO`/`DBSIZE` (see
    /// [`StoreStats`]).
    ///
    /// Not atomic and approximate on Redis: it first writes this process's pending counter
    /// changes (so a process reads its own changes), then reads the counters, which other
    /// processes move concurrently and the background reconciliation overwrites. Exact in
    /// memory (one step under the lock).
    async fn stats(&self, now: Timestamp) -> Result<StoreStats, StoreError>;

    /// Cheap liveness probe for `/readyz` (`PING` on Redis). Changes nothing.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Short name of the backend for health output: `"memory"` or `"redis"`.
    fn backend(&self) -> &'static str;

    /// The circuit breaker in front of the store, for metrics: `None` when the backend has
    /// none (memory, Redis Cluster, a Redis not connected yet). While it is open every call
    /// fails at once with [`StoreError::Unavailable`], [`ping`](Self::ping) included (so
    /// `/readyz` says the store is down); see `redis/breaker.rs` for the rule. Wrappers
    /// must forward it. Changes nothing.
    fn breaker(&self) -> Option<BreakerState> {
        None
    }
}

/// The state of a store's circuit breaker ([`StoreHealth::breaker`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BreakerState {
    /// Open: every call fails at once and a background probe runs.
    pub open: bool,
    /// How many times it opened since the store was connected (monotonic).
    pub opened_total: u64,
}
