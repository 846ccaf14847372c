//! [`StoreHealth`] on Redis: `stats()` writes this process's pending counter changes, then
//! reads the stats hash and each primary's `INFO memory`/`DBSIZE` (`redis/stats.rs`);
//! `ping()` is one `PING` (refused at once while the circuit breaker is open, like every
//! call: `/readyz` then says the store is down); `breaker()` reads the breaker.

use async_trait::async_trait;
use redis::Value;
use tessera_core::time::Timestamp;

use super::RedisStore;
use crate::error::StoreError;
use crate::model::StoreStats;
use crate::redis::stats;
use crate::store::{BreakerState, StoreHealth};

#[async_trait]
impl StoreHealth for RedisStore {
    async fn stats(&self, _now: Timestamp) -> Result<StoreStats, StoreError> {
        self.flush_stats().await;
        self.bounded(stats::read(&self.conn, &self.prefix)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("PING");
        let _: Value = self.bounded(cmd.query_async(&mut conn)).await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "redis"
    }

    fn breaker(&self) -> Option<BreakerState> {
        self.breaker.as_ref().map(|b| b.state())
    }
}
