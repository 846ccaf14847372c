//! Where the master is, for callers that need a connection of their own (the guard's
//! revocation subscription): a one-off lookup ([`resolve_master`]) and a watch that follows
//! `+switch-master` ([`MasterWatch`]).

use std::collections::HashMap;
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
        Self::connect_to(&parsed, timeout).await
    }

    /// [`connect`](Self::connect) with the URL already parsed.
    pub(crate) async fn connect_to(parsed: &SentinelUrl, timeout: Duration) -> RedisResult<Self> {
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
                        master_name: parsed.master_name.clone(),
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

/// The replicas a sentinel would promote if the master failed now: listed by `SENTINEL
/// REPLICAS`, not down or disconnected (flags), priority not 0, and master link down for no
/// longer than Sentinel's own cut-off (ten times the master's `down-after-milliseconds`,
/// as `sentinelSelectSlave` counts it). A replica whose link to the master is cut but which
/// is itself up counts: that is the one that can be promoted without the latest writes.
pub(crate) fn promotable(
    replicas: &[HashMap<String, String>],
    down_after: Duration,
) -> Vec<(String, u16)> {
    let cut_off = down_after.saturating_mul(10);
    replicas
        .iter()
        .filter(|r| {
            let flags = r.get("flags").map_or("", String::as_str);
            let down = flags
                .split(',')
                .any(|f| matches!(f, "s_down" | "o_down" | "disconnected"));
            let priority = r
                .get("slave-priority")
                .or_else(|| r.get("replica-priority"));
            let never = priority.is_some_and(|p| p.trim() == "0");
            let link_down = r
                .get("master-link-down-time")
                .and_then(|t| t.parse::<u64>().ok())
                .map_or(Duration::ZERO, Duration::from_millis);
            !down && !never && link_down <= cut_off
        })
        .filter_map(|r| {
            let ip = r.get("ip")?.clone();
            let port = r.get("port")?.parse().ok()?;
            Some((ip, port))
        })
        .collect()
}

impl MasterWatch {
    /// The replicas (`ip`, `port`) the sentinel would promote now ([`promotable`]).
    pub(crate) async fn promotable_replicas(&mut self) -> RedisResult<Vec<(String, u16)>> {
        let master: HashMap<String, String> = redis::cmd("SENTINEL")
            .arg("MASTER")
            .arg(&self.master_name)
            .query_async(&mut self.conn)
            .await?;
        let down_after = master
            .get("down-after-milliseconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map_or(Duration::from_secs(30), Duration::from_millis);
        let replicas: Vec<HashMap<String, String>> = redis::cmd("SENTINEL")
            .arg("REPLICAS")
            .arg(&self.master_name)
            .query_async(&mut self.conn)
            .await?;
        Ok(promotable(&replicas, down_after))
    }
}

/// The error of a lookup that no sentinel answered in time.
pub(super) fn lookup_timed_out() -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "no sentinel named the master in time",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(fields: &[(&str, &str)]) -> HashMap<String, String> {
        fields
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn promotable_replicas_are_those_sentinel_would_elect() {
        let after = Duration::from_millis(1000);
        let up = replica(&[
            ("ip", "10.0.0.2"),
            ("port", "6380"),
            ("flags", "slave"),
            ("master-link-down-time", "0"),
        ]);
        // Its link to the master is cut but it is up: the one a failover would promote
        // without the latest writes.
        let cut = replica(&[
            ("ip", "10.0.0.3"),
            ("port", "6381"),
            ("flags", "slave"),
            ("master-link-down-time", "4000"),
        ]);
        let dead = replica(&[("flags", "s_down,slave,disconnected")]);
        let unreachable = replica(&[("flags", "slave,disconnected")]);
        let never = replica(&[("flags", "slave"), ("slave-priority", "0")]);
        let stale = replica(&[("flags", "slave"), ("master-link-down-time", "10001")]);
        assert_eq!(
            promotable(&[up.clone(), cut.clone()], after),
            vec![("10.0.0.2".to_owned(), 6380), ("10.0.0.3".to_owned(), 6381)]
        );
        assert!(promotable(&[dead, unreachable, never, stale], after).is_empty());
        assert!(promotable(&[], after).is_empty());
        assert_eq!(promotable(&[up], after).len(), 1);
    }
}
