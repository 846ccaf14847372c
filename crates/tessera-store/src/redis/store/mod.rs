//! [`RedisStore`]: the store traits over Redis, one script call (or one plain command) per
//! method.
//!
//! # Layout
//! - this file: the store itself, connecting (version check, eviction-policy warning).
//! - `runner.rs`: how every call is sent — through the circuit breaker (`redis/breaker.rs`),
//!   operation timeout, `EVALSHA` with `NOSCRIPT` reload, the one retry of requests that may
//!   run twice; the breaker's probe.
//! - `counters.rs`: statistics changes reported by the scripts, batched into one background
//!   `HINCRBY` pipeline; `reconcile.rs`: the periodic pass that corrects them.
//! - one file per store trait: `sessions.rs` ([`SessionStore`](crate::SessionStore), with the
//!   named reply codes of the session scripts), `revocation_check.rs`
//!   ([`RevocationCheck`](crate::RevocationCheck)), `ephemeral.rs`
//!   ([`EphemeralStore`](crate::EphemeralStore)), `maps.rs` ([`UserMaps`](crate::UserMaps)),
//!   `events.rs` ([`EventLog`](crate::EventLog)), `health.rs`
//!   ([`StoreHealth`](crate::StoreHealth)).
//! - `replication.rs`: with Sentinel, a revocation waits for the replicas a failover could
//!   promote before it is answered.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::ids::UserId;

use super::breaker::Breaker;
use super::config::RedisConfig;
use super::conn::Conn;
use super::error::OperationTimeout;
use super::eviction;
use super::keys::UserKeys;
use super::version;
use crate::error::{ConfigError, StoreError};

mod counters;
mod ephemeral;
mod events;
mod health;
mod maps;
mod reconcile;
mod replication;
mod restore;
mod revocation_check;
mod runner;
mod sessions;

pub use reconcile::Reconciled;

use counters::PendingStats;

/// The production [`StateStore`](crate::StateStore) over Redis (standalone, Sentinel or
/// Cluster).
///
/// Clones share one connection. Every method is one `EVALSHA` (or one plain command, or for
/// `check_access` one pipeline of reads), bounded by [`RedisConfig::operation_timeout`]; an
/// unreachable Redis gives [`StoreError::Unavailable`] and the connection recovers by itself
/// when Redis is back. On standalone and Sentinel every call goes through one circuit
/// breaker (shared by clones; `redis/breaker.rs`): after 3 calls in a row found Redis
/// unreachable, calls answer [`StoreError::Unavailable`] at once, without the network, until
/// a background `PING` is answered.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    prefix: String,
    operation_timeout: Duration,
    cluster: bool,
    pending: Arc<PendingStats>,
    /// Standalone and Sentinel only (`redis/breaker.rs`); `None` on Cluster.
    breaker: Option<Arc<Breaker>>,
    /// Sentinel: the replication barriers of revocations, shared (`replication.rs`).
    barriers: Arc<replication::Barriers>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.cluster)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Validates `config`, connects (waiting for the first connection) and returns the store.
    /// Fails with [`StoreError::Unavailable`] when Redis cannot be reached now (or refuses
    /// the credentials or the TLS certificate), with [`StoreError::Misconfigured`] when the
    /// configuration cannot work (bad URL, prefix with `{`/`}`, no URL, several URLs for a
    /// standalone server, an unusable CA file), with [`StoreError::Incompatible`] for a Redis
    /// older than 7.0.
    /// Logs a warning naming any primary's `maxmemory-policy` other than `noeviction` (see
    /// `eviction.rs`).
    pub async fn connect(config: RedisConfig) -> Result<Self, StoreError> {
        if config.key_prefix.contains(['{', '}']) {
            return Err(StoreError::Misconfigured(ConfigError::Invalid(
                "key prefix must not contain '{' or '}'".to_owned(),
            )));
        }
        let timeout = config.operation_timeout;
        let conn = match tokio::time::timeout(timeout, Conn::connect(&config)).await {
            Ok(conn) => conn?,
            Err(_) => return Err(StoreError::Unavailable(Box::new(OperationTimeout(timeout)))),
        };
        if let Ok(Some(info)) = tokio::time::timeout(timeout, server_info(&conn)).await {
            version::check(&info).map_err(StoreError::Incompatible)?;
        }
        if let Ok(policies) = tokio::time::timeout(timeout, eviction::policies(&conn)).await {
            eviction::warn_unless_noeviction(&policies);
        }
        let breaker = (!config.cluster).then(|| {
            // A probe outlives the driver's own response timeout, so that on Sentinel the
            // connection sees its call fail and looks the master up again.
            Arc::new(Breaker::new(
                (config.response_timeout + Duration::from_millis(500))
                    .min(config.operation_timeout),
            ))
        });
        Ok(Self {
            conn,
            prefix: config.key_prefix,
            operation_timeout: timeout,
            cluster: config.cluster,
            pending: Arc::default(),
            breaker,
            barriers: Arc::default(),
        })
    }

    /// True when connected to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.cluster
    }

    /// The key prefix in use.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    fn keys(&self, user: UserId) -> UserKeys {
        UserKeys::new(&self.prefix, user)
    }
}

/// `INFO server` of one primary, or `None` when it cannot be read (the version check is
/// then skipped: an ACL may deny `INFO`, and every later call reports its own errors).
async fn server_info(conn: &Conn) -> Option<String> {
    let node = conn.primaries().await.ok()?.into_iter().next()?;
    let reply = conn
        .on_node(&node, redis::cmd("INFO").arg("server").clone())
        .await
        .ok()?;
    redis::from_redis_value(reply).ok()
}
