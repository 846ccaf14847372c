//! The call runner of [`RedisStore`]: every request to Redis goes through here, bounded by
//! [`RedisConfig::operation_timeout`](crate::redis::RedisConfig), with driver errors mapped
//! onto [`StoreError`] (see `redis/error.rs`).
//!
//! - Standalone and Sentinel: every call ([`bounded`](RedisStore::bounded), which all the
//!   others use) is first admitted by the circuit breaker (`redis/breaker.rs`) — refused at
//!   once while it is open, never sent — and its outcome recorded; the call whose outcome
//!   opens it starts the one background probe (`PING` on the store's own connection).
//! - A script call is one `EVALSHA`; on `NOSCRIPT` (a restarted or failed-over server that
//!   lost its script cache) the driver loads the script and sends it again — within the same
//!   timeout.
//! - A request that may safely run twice (read only, or a script whose second run changes
//!   nothing more) is sent once more when the first attempt finds the connection dropped;
//!   the connection manager reconnects in between. Nothing else is ever retried: a second
//!   run of a rotation or a revocation could answer differently from the first.

use std::future::Future;
use std::sync::Arc;

use redis::{ScriptInvocation, Value};
use tokio::time::Instant;

use super::RedisStore;
use crate::error::StoreError;
use crate::redis::breaker::{self, Breaker, FAILURES_TO_OPEN, PROBE_EVERY, Seen};
use crate::redis::conn::Conn;
use crate::redis::error::{OperationTimeout, map_redis_error};

impl RedisStore {
    /// Runs `fut` within the operation timeout, mapping driver errors; a timeout is
    /// [`StoreError::Unavailable`]. Through the circuit breaker (module docs): while it is
    /// open, `fut` is never polled (nothing is sent) and the call fails at once with
    /// [`StoreError::Unavailable`].
    pub(super) async fn bounded<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        self.admitted(fut, true).await
    }

    /// As [`bounded`](Self::bounded) — refused at once while the breaker is open — but its
    /// outcome is no evidence for the breaker either way: for a call whose slowness is by
    /// design (the replication barrier's `WAIT`, which blocks its connection until replicas
    /// acknowledge, one revocation after another), so that revocations waiting on a slow
    /// replica never open the breaker of a healthy master.
    pub(super) async fn bounded_unjudged<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        self.admitted(fut, false).await
    }

    /// The call through the breaker; `judged`: whether its outcome counts for the breaker.
    async fn admitted<T>(
        &self,
        fut: impl Future<Output = redis::RedisResult<T>>,
        judged: bool,
    ) -> Result<T, StoreError> {
        let ticket = match &self.breaker {
            Some(b) => Some(b.admit(Instant::now())?),
            None => None,
        };
        let (result, seen) = match tokio::time::timeout(self.operation_timeout, fut).await {
            Ok(Ok(value)) => (Ok(value), Seen::Answered),
            Ok(Err(e)) => {
                let seen = Seen::of(&e);
                (Err(map_redis_error(e)), seen)
            }
            Err(_) => (
                Err(StoreError::Unavailable(Box::new(OperationTimeout(
                    self.operation_timeout,
                )))),
                Seen::TimedOut,
            ),
        };
        if let (Some(b), Some(ticket), true) = (&self.breaker, ticket, judged)
            && b.record(ticket, seen, Instant::now())
        {
            let cause = result.as_ref().err().map(StoreError::chain);
            tracing::warn!(
                error = cause.as_deref().unwrap_or_default(),
                failures = FAILURES_TO_OPEN,
                probe_every = ?PROBE_EVERY,
                "Redis unreachable: circuit breaker open, store calls fail at once until a probe is answered"
            );
            self.spawn_probe(b);
        }
        result
    }

    /// Starts the probe of the just opened `breaker`: `PING` on this store's connection
    /// (with Sentinel, the connection that follows the master) until one is answered.
    fn spawn_probe(&self, breaker: &Arc<Breaker>) {
        let conn = self.conn.clone();
        let ping = move || {
            let mut conn = conn.clone();
            async move {
                redis::cmd("PING")
                    .query_async::<Value>(&mut conn)
                    .await
                    .is_ok()
            }
        };
        tokio::spawn(breaker::probe(Arc::downgrade(breaker), ping));
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
