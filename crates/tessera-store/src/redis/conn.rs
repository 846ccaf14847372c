//! One connection handle for standalone, Sentinel and Cluster: [`Conn`].
//!
//! ## Behaviour when Redis goes away
//! - **Standalone**: a [`ConnectionManager`] — one multiplexed connection per process, shared
//!   by clones (not a pool). The call that finds a dead socket fails; the manager reconnects
//!   in the background (a few quick attempts per trigger, each bounded by the connect
//!   timeout) and every later call triggers a new attempt, so service resumes by itself when
//!   Redis is back.
//! - **Sentinel** (`redis+sentinel://`): a [`SentinelConn`], the standalone manager of the
//!   master the sentinels name, swapped for a new one when the master moves (see
//!   `sentinel/conn.rs`).
//! - **Cluster**: a [`ClusterConnection`], which keeps one multiplexed connection per node,
//!   follows `MOVED`/`ASK`, refreshes its slot map and reconnects on its own.
//! - Both have connect and response timeouts; on top of that every store call is bounded by
//!   the operation timeout, so no call hangs.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, RedisResult, Value};

use super::config::RedisConfig;
use super::error::map_redis_error;
use super::sentinel::{SentinelConn, SentinelUrl, is_sentinel_url};
use super::tls::{is_tls_url, tls_certificates};
use crate::error::{ConfigError, StoreError};

/// Reconnect attempts per trigger (standalone).
const RECONNECT_ATTEMPTS: usize = 2;
/// Smallest pause between reconnect attempts (standalone).
const RECONNECT_MIN_DELAY: Duration = Duration::from_millis(100);

/// A standalone, Sentinel or Cluster connection. Cheap to clone; clones share the
/// connection.
#[derive(Clone)]
pub(crate) enum Conn {
    Standalone(ConnectionManager),
    Sentinel(SentinelConn),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Connects and waits for the first connection (fails with
    /// [`StoreError::Unavailable`] when Redis cannot be reached now, with
    /// [`StoreError::Misconfigured`] when the configuration cannot work).
    pub(crate) async fn connect(config: &RedisConfig) -> Result<Self, StoreError> {
        let bad = |m: &str| StoreError::Misconfigured(ConfigError::Invalid(m.to_owned()));
        if config.urls.is_empty() {
            return Err(bad("no redis url given"));
        }
        let certs = match &config.tls_ca_file {
            Some(path) => Some(
                tls_certificates(path)
                    .map_err(|e| StoreError::Misconfigured(ConfigError::TlsCa(e)))?,
            ),
            None => None,
        };
        if config.cluster {
            if config.urls.iter().any(|u| is_sentinel_url(u)) {
                return Err(bad("a Cluster is not reached through Sentinel URLs"));
            }
            let mut builder = ClusterClientBuilder::new(config.urls.clone())
                .connection_timeout(config.connect_timeout)
                .response_timeout(config.response_timeout)
                .retries(2);
            if let Some(certs) = certs {
                builder = builder.certs(certs);
            }
            let client = builder
                .build()
                .map_err(|e| StoreError::Misconfigured(ConfigError::Client(e)))?;
            let conn = client
                .get_async_connection()
                .await
                .map_err(map_redis_error)?;
            return Ok(Conn::Cluster(conn));
        }
        let [url] = config.urls.as_slice() else {
            return Err(bad("a standalone or Sentinel redis takes exactly one url"));
        };
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            .set_response_timeout(Some(config.response_timeout))
            .set_number_of_retries(RECONNECT_ATTEMPTS)
            .set_min_delay(RECONNECT_MIN_DELAY)
            .set_max_delay(config.connect_timeout);
        if is_sentinel_url(url) {
            let parsed =
                SentinelUrl::parse(url).map_err(|e| StoreError::Misconfigured(e.into()))?;
            let conn = SentinelConn::connect(&parsed, manager_config, config.operation_timeout)
                .await
                .map_err(map_redis_error)?;
            return Ok(Conn::Sentinel(conn));
        }
        let client = match certs {
            Some(certs) if is_tls_url(url) => redis::Client::build_with_tls(url.as_str(), certs),
            _ => redis::Client::open(url.as_str()),
        }
        .map_err(|e| StoreError::Misconfigured(ConfigError::Client(e)))?;
        let manager = ConnectionManager::new_with_config(client, manager_config)
            .await
            .map_err(|e| {
                if is_tls_url(url) && e.to_string().contains("certificate") {
                    StoreError::Unavailable(Box::new(TlsRefused(e)))
                } else {
                    map_redis_error(e)
                }
            })?;
        Ok(Conn::Standalone(manager))
    }
}

/// The server's TLS certificate did not verify (unknown CA, wrong host name, expired).
#[derive(Debug, thiserror::Error)]
#[error("the Redis server's TLS certificate was refused (is `tls_ca_file` the CA that signed it?)")]
struct TlsRefused(#[source] RedisError);

/// One primary to send a node-level command (`SCAN`, `INFO`, `DBSIZE`) to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Node {
    /// The one standalone server (with Sentinel: the current master).
    Standalone,
    /// A Cluster primary by address.
    Primary { host: String, port: u16 },
}

impl Conn {
    /// Every primary: the standalone server, or each Cluster primary as the driver's current
    /// slot map knows it.
    pub(crate) async fn primaries(&self) -> RedisResult<Vec<Node>> {
        let Conn::Cluster(c) = self else {
            return Ok(vec![Node::Standalone]);
        };
        let mut c = c.clone();
        let reply = c
            .route_command(
                redis::cmd("PING"),
                RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None)),
            )
            .await?;
        let Value::Map(entries) = reply else {
            return Err(RedisError::from((
                ErrorKind::UnexpectedReturnType,
                "PING to all primaries did not answer a map",
            )));
        };
        let mut nodes = Vec::with_capacity(entries.len());
        for (addr, _) in entries {
            let addr: String = redis::from_redis_value(addr)?;
            let parsed = addr
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)));
            let Some((host, port)) = parsed else {
                return Err(RedisError::from((
                    ErrorKind::UnexpectedReturnType,
                    "primary address is not host:port",
                )));
            };
            nodes.push(Node::Primary { host, port });
        }
        nodes.sort();
        Ok(nodes)
    }

    /// Runs `cmd` on one node (not routed by key).
    pub(crate) async fn on_node(&self, node: &Node, cmd: Cmd) -> RedisResult<Value> {
        match (self, node) {
            (Conn::Cluster(c), Node::Primary { host, port }) => {
                let mut c = c.clone();
                let routing = SingleNodeRoutingInfo::ByAddress {
                    host: host.clone(),
                    port: *port,
                };
                c.route_command(cmd, RoutingInfo::SingleNode(routing)).await
            }
            (Conn::Standalone(c), Node::Standalone) => {
                let mut c = c.clone();
                cmd.query_async(&mut c).await
            }
            (Conn::Sentinel(c), Node::Standalone) => {
                let mut c = c.clone();
                cmd.query_async(&mut c).await
            }
            _ => Err(RedisError::from((
                ErrorKind::InvalidClientConfig,
                "node kind does not match the connection",
            ))),
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Standalone(c) => c.req_packed_command(cmd),
            Conn::Sentinel(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Standalone(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Standalone(c) => c.get_db(),
            Conn::Sentinel(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}
