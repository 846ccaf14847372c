//! [`RedisConfig`]: where Redis is and how long to wait for it.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Connection settings of the Redis backend.
///
/// `Debug` never prints a password: URLs are shown with their credentials replaced by `***`.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user[:password]@]host:port[/db]` or `rediss://…` (TLS). Standalone: exactly
    /// one URL. Sentinel: exactly one
    /// `redis+sentinel://[user[:password]@]host[:port][,host[:port]…]/<master-name>[/<db>]`
    /// (see [`is_sentinel_url`](super::is_sentinel_url); `cluster` must be `false`). Cluster:
    /// one or more seed nodes.
    pub urls: Vec<String>,
    /// `true`: Redis Cluster (`urls` are seeds); `false`: one standalone server.
    pub cluster: bool,
    /// Prefix of every key. Default `ts:`. Must not contain `{` or `}` (the hash tag that
    /// follows it decides the slot).
    pub key_prefix: String,
    /// Limit on establishing one TCP/TLS connection. Default 1 s.
    pub connect_timeout: Duration,
    /// Limit on waiting for one reply. Default 1 s.
    pub response_timeout: Duration,
    /// PEM file with the certificate(s) of the CA that signs the Redis servers' TLS
    /// certificates: `rediss://` connections then trust that CA only, instead of the
    /// system's root store. Default `None` (system roots). Read at connect; an unreadable
    /// file or one without a certificate fails the connect with a configuration error.
    pub tls_ca_file: Option<PathBuf>,
    /// Backstop on one whole store call (reconnect attempts included): past it the call fails
    /// with [`StoreError::Unavailable`](crate::StoreError::Unavailable). Default 3 s.
    pub operation_timeout: Duration,
}

impl RedisConfig {
    /// Default key prefix.
    pub const DEFAULT_KEY_PREFIX: &'static str = "ts:";

    /// One standalone server with default timeouts and prefix.
    pub fn standalone(url: impl Into<String>) -> Self {
        Self::new(vec![url.into()], false)
    }

    /// A Redis Cluster reached through `seeds`, with default timeouts and prefix.
    pub fn cluster<S: Into<String>>(seeds: impl IntoIterator<Item = S>) -> Self {
        Self::new(seeds.into_iter().map(Into::into).collect(), true)
    }

    fn new(urls: Vec<String>, cluster: bool) -> Self {
        Self {
            urls,
            cluster,
            key_prefix: Self::DEFAULT_KEY_PREFIX.to_owned(),
            tls_ca_file: None,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(1),
            operation_timeout: Duration::from_secs(3),
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self.urls.iter().map(|u| redact_url(u)).collect();
        f.debug_struct("RedisConfig")
            .field("urls", &urls)
            .field("cluster", &self.cluster)
            .field("key_prefix", &self.key_prefix)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .finish()
    }
}

/// `url` with any userinfo password replaced by `***` (the user name is kept: ACL user names
/// are not secrets). Query parameters are dropped, since some drivers accept credentials there.
pub(crate) fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => return "***".to_owned(),
    };
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None if userinfo.is_empty() => format!("@{host}"),
            // `redis://secret@host` means "password only" to redis-rs.
            None => format!("***@{host}"),
        },
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_passwords() {
        let mut c = RedisConfig::cluster([
            "redis://alice:s3cret@10.0.0.1:6379/0",
            "rediss://:hunter2@host:6380",
            "redis://onlypass@host",
            "redis://host:6379?password=qwerty",
        ]);
        c.key_prefix = "x:".into();
        let dbg = format!("{c:?}");
        for secret in ["s3cret", "hunter2", "onlypass", "qwerty"] {
            assert!(!dbg.contains(secret), "{dbg}");
        }
        assert!(dbg.contains("alice:***@10.0.0.1:6379/0"), "{dbg}");
        assert!(dbg.contains("rediss://:***@host:6380"), "{dbg}");
    }
}
