//! The call runner of [`RedisStore`]: every request to Redis goes through here, bounded by
//! [`RedisConfig::operation_timeout`](crate::redis::RedisConfig), with driver errors mapped
//! onto [`StoreError`] (see `redis/error.rs`).
//!
//! - A script call is one `EVALSHA`; on `NOSCRIPT` (a restarted or failed-over server that
//!   lost its script cache) the driver loads the script and sends it again — within the same
//!   timeout.
//! - A request that may safely run twice (read only, or a script whose second run changes
//!   nothing more) is sent once more when the first attempt finds the connection dropped;
//!   the connection manager reconnects in between. Nothing else is ever retried: a second
//!   run of a rotation or a revocation could answer differently from the first.

use std::future::Future;

use redis::{ScriptInvocation, Value};

use super::RedisStore;
use crate::error::StoreError;
use crate::redis::conn::Conn;
use crate::redis::error::{OperationTimeout, map_redis_error};

impl RedisStore {
    /// Runs `fut` within the operation timeout, mapping driver errors; a timeout is
    /// [`StoreError::Unavailable`].
    pub(super) async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.operation_timeout, fut).await {
            Ok(result) => result.map_err(map_redis_error),
            Err(_) => Err(StoreError::Unavailable(Box::new(OperationTimeout(
                self.operation_timeout,
            )))),
        }
    }

    /// One script call (`EVALSHA`, reloading the script on `NOSCRIPT`), sent once.
    pub(super) async fn run(&self, invocation: &ScriptInvocation<'_>) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        self.bounded(invocation.invoke_async::<Value>(&mut conn))
            .await
    }

    /// [`run`](Self::run) for scripts that may safely run twice (see
    /// [`idempotent`](Self::idempotent)).
    pub(super) async fn run_idempotent(
        &self,
        invocation: &ScriptInvocation<'_>,
    ) -> Result<Value, StoreError> {
        self.idempotent(|mut conn| async move { invocation.invoke_async::<Value>(&mut conn).await })
            .await
    }

    /// Sends a request that may safely run twice: when the first attempt finds a dropped
    /// connection (the manager then reconnects), it is sent once more on a handle to the
    /// same connection, within the same operation timeout.
    pub(super) async fn idempotent<T, Fut>(
        &self,
        send: impl Fn(Conn) -> Fut,
    ) -> Result<T, StoreError>
    where
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        self.bounded(async {
            match send(self.conn.clone()).await {
                Err(e) if e.is_connection_dropped() || e.is_unrecoverable_error() => {
                    send(self.conn.clone()).await
                }
                other => other,
            }
        })
        .await
    }

    /// One plain command, sent once.
    pub(super) async fn query(&self, cmd: redis::Cmd) -> Result<Value, StoreError> {
        let mut conn = self.conn.clone();
        self.bounded(cmd.query_async::<Value>(&mut conn)).await
    }
}
