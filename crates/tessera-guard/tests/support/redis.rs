//! Private Redis processes: a shared standalone server and Cluster for most tests, and
//! throwaway servers (or a throwaway Sentinel deployment) for the tests that break their
//! Redis. Without `redis-server`: a loud
//! skip (`None`), or a failure with `TESSERA_REQUIRE_SERVICES=1`.

use std::sync::OnceLock;
use std::time::Duration;

use tessera_store::redis::RedisConfig;
use tessera_testkit::{
    RedisCluster, RedisSentinel, RedisServer, RedisTls, TempDir, free_port, redis_available,
    tls_available,
};

/// Where a test's guard and store connect.
pub struct Target {
    pub urls: Vec<String>,
    pub cluster: bool,
    prefix: String,
    /// `tls_ca_file` of the configuration (TLS targets).
    pub ca: Option<std::path::PathBuf>,
}

impl Target {
    /// The Redis configuration with this target's own key prefix and short timeouts.
    pub fn config(&self) -> RedisConfig {
        let mut c = if self.cluster {
            RedisConfig::cluster(self.urls.clone())
        } else {
            RedisConfig::standalone(self.urls[0].clone())
        };
        c.key_prefix = self.prefix.clone();
        c.tls_ca_file = self.ca.clone();
        c.connect_timeout = Duration::from_millis(500);
        c.response_timeout = Duration::from_millis(500);
        c.operation_timeout = Duration::from_secs(1);
        if self.urls[0].starts_with("redis+sentinel://") {
            // A revocation waits for a replica's acknowledgement, for at most half the
            // operation timeout: 500 ms was missed on a loaded 2-core machine.
            c.operation_timeout = Duration::from_secs(4);
        }
        c
    }

    /// This target (same key prefix) reached through `url` instead.
    pub fn with_url(&self, url: String) -> Self {
        Self {
            urls: vec![url],
            cluster: false,
            prefix: self.prefix.clone(),
            ca: self.ca.clone(),
        }
    }

    fn new(urls: Vec<String>, cluster: bool) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        Self {
            urls,
            cluster,
            prefix: format!("g{}:", &id[..8]),
            ca: None,
        }
    }
}

/// `redis_available` reports a missing server itself (loud skip or failure).
fn available() -> bool {
    redis_available()
}

struct Standalone {
    server: RedisServer,
    _dir: TempDir,
}

pub async fn shared_standalone() -> Option<Target> {
    static SERVER: OnceLock<Option<Standalone>> = OnceLock::new();
    let s = tokio::task::spawn_blocking(|| {
        SERVER
            .get_or_init(|| {
                available().then(|| {
                    let dir = TempDir::new("guard");
                    let server = RedisServer::start(free_port(), dir.path(), &[]);
                    Standalone { server, _dir: dir }
                })
            })
            .as_ref()
            .map(|s| s.server.url())
    })
    .await
    .unwrap()?;
    Some(Target::new(vec![s], false))
}

pub async fn shared_cluster() -> Option<Target> {
    static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
    let urls = tokio::task::spawn_blocking(|| {
        CLUSTER
            .get_or_init(|| available().then(RedisCluster::start))
            .as_ref()
            .map(RedisCluster::urls)
    })
    .await
    .unwrap()?;
    Some(Target::new(urls, true))
}

/// A server of the test's own, to break at will.
pub struct Private {
    pub server: RedisServer,
    pub target: Target,
    _dir: TempDir,
}

pub async fn private_standalone() -> Option<Private> {
    tokio::task::spawn_blocking(|| {
        available().then(|| {
            let dir = TempDir::new("guard-private");
            let server = RedisServer::start(free_port(), dir.path(), &[]);
            let target = Target::new(vec![server.url()], false);
            Private {
                server,
                target,
                _dir: dir,
            }
        })
    })
    .await
    .unwrap()
}

/// A Sentinel deployment of the test's own (master, replica, one sentinel), to fail over.
pub struct PrivateSentinel {
    pub sentinel: RedisSentinel,
    pub target: Target,
}

pub async fn private_sentinel() -> Option<PrivateSentinel> {
    tokio::task::spawn_blocking(|| {
        available().then(|| {
            let sentinel = RedisSentinel::start(1);
            let target = Target::new(vec![sentinel.url()], false);
            PrivateSentinel { sentinel, target }
        })
    })
    .await
    .unwrap()
}

/// A TLS server of the test's own (certificates from the `openssl` CLI), reached through
/// `rediss://` with its CA as `tls_ca_file`.
pub struct PrivateTls {
    _server: RedisTls,
    pub target: Target,
}

pub async fn private_tls() -> Option<PrivateTls> {
    tokio::task::spawn_blocking(|| {
        tls_available().then(|| {
            let server = RedisTls::start(&[]);
            let mut target = Target::new(vec![server.url("")], false);
            target.ca = Some(server.ca.cert.clone());
            PrivateTls {
                _server: server,
                target,
            }
        })
    })
    .await
    .unwrap()
}
