//! The background statistics reconciliation: what the batched counters (`counters.rs`) miss
//! — sessions and grants that expire while nobody touches their user — is corrected by a
//! periodic pass that counts every user's live sessions and overwrites the totals.

use std::time::Duration;

use tessera_core::time::Timestamp;

use super::RedisStore;
use crate::error::StoreError;
use crate::redis::error::protocol;
use crate::redis::keys::{from_index, index_pattern, stats_key};
use crate::redis::reply::{self, ts_arg};
use crate::redis::scripts;
use crate::redis::stats;

/// Pause between two `SCAN` batches of the statistics reconciliation.
const RECONCILE_PAUSE: Duration = Duration::from_millis(20);
/// `SCAN … COUNT` of the statistics reconciliation.
const RECONCILE_SCAN_COUNT: u32 = 200;

/// What one reconciliation pass counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Session indexes (users with sessions) visited.
    pub users: u64,
    /// Live sessions counted.
    pub sessions: u64,
    /// Unexpired access grants of live sessions counted.
    pub grants: u64,
}

impl RedisStore {
    /// One statistics reconciliation pass at `now`: walks every session index on every
    /// primary with `SCAN MATCH <prefix>{u:*}:sessions COUNT 200` (pausing 20 ms between
    /// batches), runs `count_sessions.lua` on each (which prunes that user's dead sessions
    /// and counts the live ones and their unexpired grants), and writes the totals to the
    /// stats hash (`s`, `g`, `t`). Background work only: O(all sessions) overall, but
    /// never more than one user's sessions per script and never a blocking command. On an
    /// error the pass stops and writes nothing.
    ///
    /// Approximate by nature: changes made while the pass runs may be counted or not, and
    /// are fixed by the next pass. On Cluster a resharding during the pass may make SCAN skip
    /// or repeat keys.
    pub async fn reconcile_stats(&self, now: Timestamp) -> Result<Reconciled, StoreError> {
        self.flush_stats().await;
        let pattern = index_pattern(&self.prefix);
        let nodes = self.bounded(self.conn.primaries()).await?;
        let mut total = Reconciled::default();
        for node in &nodes {
            let mut cursor = 0u64;
            loop {
                let mut scan = redis::cmd("SCAN");
                scan.arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(RECONCILE_SCAN_COUNT);
                let page = self.bounded(self.conn.on_node(node, scan)).await?;
                let mut page = reply::array(page)?.into_iter();
                let next = reply::uint(&page.next().ok_or_else(|| protocol("SCAN reply"))?)?;
                let keys = reply::array(page.next().ok_or_else(|| protocol("SCAN reply"))?)?;
                for key in keys {
                    let index = reply::string(key)?;
                    let Some((version, sessions)) = from_index(&index) else {
                        continue;
                    };
                    let mut inv = scripts::COUNT_SESSIONS.prepare_invoke();
                    inv.key(&index).key(version).arg(ts_arg(now)).arg(sessions);
                    let counted = reply::array(self.run(&inv).await?)?;
                    let [s, g] = counted.as_slice() else {
                        return Err(protocol("count_sessions reply"));
                    };
                    total.users += 1;
                    total.sessions += reply::uint(s)?;
                    total.grants += reply::uint(g)?;
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
                tokio::time::sleep(RECONCILE_PAUSE).await;
            }
        }
        let mut hset = redis::cmd("HSET");
        hset.arg(stats_key(&self.prefix))
            .arg(stats::SESSIONS)
            .arg(total.sessions)
            .arg(stats::GRANTS)
            .arg(total.grants)
            .arg(stats::RECONCILED_AT)
            .arg(ts_arg(now));
        let mut conn = self.conn.clone();
        self.bounded(hset.query_async::<()>(&mut conn)).await?;
        Ok(total)
    }

    /// Starts the background statistics reconciliation: a
    /// [`reconcile_stats`](Self::reconcile_stats) pass right away and then every `every` (measured from the end
    /// of one pass to the start of the next), with the wall clock as `now`. A failed pass is
    /// logged and retried at the next tick. The task runs until the returned handle is
    /// aborted (or the runtime shuts down); [`connect`](Self::connect) does not start it —
    /// the server starts one per process. Several processes reconciling is harmless (each
    /// pass writes totals), only wasteful.
    #[allow(clippy::disallowed_methods)] // a background task: an edge that reads the clock
    pub fn spawn_stats_reconciler(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                match store.reconcile_stats(Timestamp::now()).await {
                    Ok(r) => tracing::debug!(?r, "statistics reconciled"),
                    Err(e) => {
                        tracing::warn!(error = %e.chain(), "statistics reconciliation failed")
                    }
                }
                tokio::time::sleep(every).await;
            }
        })
    }
}
