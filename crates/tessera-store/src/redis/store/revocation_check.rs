//! [`RevocationCheck`] on Redis: the pipeline of reads built and decided in
//! `redis/access.rs` (deliberately not a script), sent as one round trip and, being read
//! only, once more on a dropped connection.

use async_trait::async_trait;
use redis::Value;
use tessera_core::time::Timestamp;

use super::RedisStore;
use crate::error::StoreError;
use crate::model::{AccessCheck, AccessStatus, RevocationMode};
use crate::redis::access;
use crate::store::RevocationCheck;

#[async_trait]
impl RevocationCheck for RedisStore {
    async fn check_access(
        &self,
        c: AccessCheck,
        mode: RevocationMode,
        now: Timestamp,
    ) -> Result<AccessStatus, StoreError> {
        let pipe = access::pipeline(&self.keys(c.user), &c, mode);
        // Read only, so safe to send twice.
        let replies = self
            .idempotent(|mut conn| {
                let pipe = &pipe;
                async move { pipe.query_async::<Vec<Value>>(&mut conn).await }
            })
            .await?;
        access::decide(replies, &c, mode, now)
    }
}
