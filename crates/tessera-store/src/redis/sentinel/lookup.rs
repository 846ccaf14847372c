//! Where the master is, for callers that need a connection of their own (the guard's
//! revocation subscription): a one-off lookup ([`resolve_master`]) and a watch that follows
//! `+switch-master` ([`MasterWatch`]).

use std::time::Duration;

use redis::{
    AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, ErrorKind, IntoConnectionInfo,
    RedisError, RedisResult,
};

use super::url::SentinelUrl;

/// Asks the sentinels of `url` for the current master and returns how to connect to it
/// (with `protocol`), bounded by `timeout`. For subscribers that need a connection of
/// their own (the guard's revocation subscription).
pub async fn resolve_master(
    url: &str,
    protocol: redis::ProtocolVersion,
    timeout: Duration,
) -> RedisResult<ConnectionInfo> {
    let parsed = SentinelUrl::parse(url)
        .map_err(|e| RedisError::from((ErrorKind::InvalidClientConfig, "bad sentinel url", e.0)))?;
    let mut client = parsed.client(protocol)?;
    match tokio::time::timeout(timeout, client.async_get_client()).await {
        Ok(client) => Ok(client?.get_connection_info().clone()),
        Err(_) => Err(lookup_timed_out()),
    }
}

/// A connection to one sentinel (the first of the URL's that answers) that says where the
/// master is now: for a subscriber on the master (the guard's revocation subscription),
/// which must move as soon as the master does (after a `SENTINEL FAILOVER` the old master
/// stays up, and is not a replica of the new one, until Sentinel demotes it).
pub struct MasterWatch {
    conn: redis::aio::MultiplexedConnection,
    master_name: String,
}

impl MasterWatch {
    /// Connects to the first sentinel of `url` that answers within `timeout`.
    pub async fn connect(url: &str, timeout: Duration) -> RedisResult<Self> {
        let parsed = SentinelUrl::parse(url).map_err(|e| {
            RedisError::from((ErrorKind::InvalidClientConfig, "bad sentinel url", e.0))
        })?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let mut last = None;
        for (host, port) in &parsed.sentinels {
            let info = ConnectionAddr::Tcp(host.clone(), *port).into_connection_info()?;
            let client = redis::Client::open(info)?;
            match client
                .get_multiplexed_async_connection_with_config(&config)
                .await
            {
                Ok(conn) => {
                    return Ok(Self {
                        conn,
                        master_name: parsed.master_name,
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(lookup_timed_out))
    }

    /// `host:port` of the master as the sentinel names it now (`SENTINEL
    /// GET-MASTER-ADDR-BY-NAME`, which names the promoted replica as soon as it is promoted).
    pub async fn master_addr(&mut self) -> RedisResult<String> {
        let (host, port): (String, u16) = redis::cmd("SENTINEL")
            .arg("GET-MASTER-ADDR-BY-NAME")
            .arg(&self.master_name)
            .query_async(&mut self.conn)
            .await?;
        Ok(format!("{host}:{port}"))
    }
}

/// The error of a lookup that no sentinel answered in time.
pub(super) fn lookup_timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no sentinel named the master in time",
    ))
}
