//! The durable copy's background tasks: the write-behind flush and the expiry sweep. Both
//! are edges (they read the clock) and both end when the last handle of the copy is dropped.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tessera_core::time::Timestamp;

use super::DurableSessions;
use super::rows::SWEEP_BATCH;

/// How often the sweep deletes dead rows (in batches of [`SWEEP_BATCH`], until a batch
/// comes back short).
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Starts the flush (every `lag`, so a rotation waits at most about `lag` before its copy
/// is written) and the sweep (every [`SWEEP_EVERY`]).
pub fn spawn(durable: &Arc<DurableSessions>) {
    let weak = Arc::downgrade(durable);
    let lag = durable.lag;
    tokio::spawn(flush_loop(weak.clone(), lag));
    tokio::spawn(sweep_loop(weak));
}

#[allow(clippy::disallowed_methods)] // a background task: an edge, reads the clock
async fn flush_loop(weak: Weak<DurableSessions>, lag: Duration) {
    let mut tick = tokio::time::interval(lag.max(Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(durable) = weak.upgrade() else { break };
        durable.flush(Timestamp::now()).await;
    }
}

#[allow(clippy::disallowed_methods)] // a background task: an edge, reads the clock
async fn sweep_loop(weak: Weak<DurableSessions>) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(durable) = weak.upgrade() else { break };
        loop {
            match durable.rows().sweep(Timestamp::now()).await {
                Ok(n) if n >= u64::try_from(SWEEP_BATCH).unwrap_or(u64::MAX) => continue,
                Ok(_) => break,
                Err(e) => {
                    durable.metrics.durable_write_failure();
                    tracing::warn!(error = %tessera_store::error::chain_of(&e), "durable mirror: expiry sweep failed");
                    break;
                }
            }
        }
    }
}
