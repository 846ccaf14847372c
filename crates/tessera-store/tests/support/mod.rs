//! Shared helpers of the conformance suite: backends to run it against, private Redis
//! processes, and fixtures.

pub mod fixtures;

use std::sync::{Arc, OnceLock};

use tessera_store::StateStore;
use tessera_store::memory::MemoryStore;
use tessera_store::redis::{RedisConfig, RedisStore};

use tessera_testkit::{
    RedisCluster, RedisSentinel, RedisServer, RedisTls, TempDir, free_port, redis_available,
    tls_available,
};

/// A store under test, plus raw access when it is Redis.
pub struct Backend {
    pub store: Arc<dyn StateStore>,
    pub redis: Option<RedisAccess>,
}

/// How a test reaches the Redis behind a [`RedisStore`] directly.
#[derive(Clone)]
pub struct RedisAccess {
    /// Ports of every node (one for standalone, the masters for Cluster, the master for
    /// Sentinel).
    pub ports: Vec<u16>,
    pub cluster: bool,
    pub store: RedisStore,
}

impl RedisAccess {
    /// `redis-cli` on every node.
    pub fn cli_all(&self, args: &[&str]) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| tessera_testkit::cli(*p, args))
            .collect()
    }
}

pub async fn memory() -> Option<Backend> {
    Some(Backend {
        store: Arc::new(MemoryStore::new()),
        redis: None,
    })
}

struct Standalone {
    server: RedisServer,
    _dir: TempDir,
}

/// One private standalone server shared by the tests of this binary (it dies with the
/// process: see `tessera_testkit::redis_server`).
fn shared_standalone() -> Option<&'static Standalone> {
    static SERVER: OnceLock<Option<Standalone>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            redis_available().then(|| {
                let dir = TempDir::new("standalone");
                let server = RedisServer::start(free_port(), dir.path(), &[]);
                Standalone { server, _dir: dir }
            })
        })
        .as_ref()
}

fn shared_cluster() -> Option<&'static RedisCluster> {
    static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| redis_available().then(RedisCluster::start))
        .as_ref()
}

/// One private Sentinel deployment (master, replica, one sentinel) shared by the tests of
/// this binary that do not fail it over.
fn shared_sentinel() -> Option<&'static RedisSentinel> {
    static SENTINEL: OnceLock<Option<RedisSentinel>> = OnceLock::new();
    SENTINEL
        .get_or_init(|| redis_available().then(|| RedisSentinel::start(1)))
        .as_ref()
}

/// One private TLS server (certificates from the `openssl` CLI) shared by the tests of this
/// binary.
pub fn shared_tls() -> Option<&'static RedisTls> {
    static TLS: OnceLock<Option<RedisTls>> = OnceLock::new();
    TLS.get_or_init(|| tls_available().then(|| RedisTls::start(&[])))
        .as_ref()
}

/// A key prefix of its own for each store under test, so that the global statistics (and the
/// reconciliation's SCAN) of one test never see another test's sessions.
fn unique_config(mut config: RedisConfig) -> RedisConfig {
    let id = tessera_core::ids::UserId::new().to_string();
    config.key_prefix = format!("t{}:", &id[id.len() - 8..]);
    config
}

pub async fn redis_standalone() -> Option<Backend> {
    let s = tokio::task::spawn_blocking(shared_standalone)
        .await
        .expect("join")?;
    let store = RedisStore::connect(unique_config(RedisConfig::standalone(s.server.url())))
        .await
        .expect("connect to standalone redis");
    Some(Backend {
        store: Arc::new(store.clone()),
        redis: Some(RedisAccess {
            ports: vec![s.server.port()],
            cluster: false,
            store,
        }),
    })
}

pub async fn redis_cluster() -> Option<Backend> {
    let c = tokio::task::spawn_blocking(shared_cluster)
        .await
        .expect("join")?;
    let store = RedisStore::connect(unique_config(RedisConfig::cluster(c.urls())))
        .await
        .expect("connect to redis cluster");
    Some(Backend {
        store: Arc::new(store.clone()),
        redis: Some(RedisAccess {
            ports: c.nodes.iter().map(RedisServer::port).collect(),
            cluster: true,
            store,
        }),
    })
}

pub async fn redis_sentinel() -> Option<Backend> {
    let (url, master) =
        tokio::task::spawn_blocking(|| shared_sentinel().map(|s| (s.url(), s.master_port())))
            .await
            .expect("join")?;
    let store = RedisStore::connect(unique_config(RedisConfig::standalone(url)))
        .await
        .expect("connect through sentinel");
    Some(Backend {
        store: Arc::new(store.clone()),
        redis: Some(RedisAccess {
            ports: vec![master],
            cluster: false,
            store,
        }),
    })
}

/// The shared TLS server through `rediss://`, trusting the test CA (`tls_ca_file`).
pub async fn redis_tls() -> Option<Backend> {
    let (url, ca, port) = tokio::task::spawn_blocking(|| {
        shared_tls().map(|t| (t.url(""), t.ca.cert.clone(), t.server.port()))
    })
    .await
    .expect("join")?;
    let mut config = unique_config(RedisConfig::standalone(url));
    config.tls_ca_file = Some(ca);
    let store = RedisStore::connect(config).await.expect("connect over TLS");
    Some(Backend {
        store: Arc::new(store.clone()),
        redis: Some(RedisAccess {
            ports: vec![port],
            cluster: false,
            store,
        }),
    })
}

/// Creates an ACL user on the server at `port` with exactly Tessera's rules for `prefix`
/// (`tessera_store::redis::acl_rules`); returns `(user, password)`.
pub fn acl_user(port: u16, prefix: &str) -> (String, String) {
    // UUIDv7: the leading hex digits are a timestamp, the trailing ones random.
    let random = || {
        tessera_core::ids::UserId::new()
            .to_string()
            .replace('-', "")[16..]
            .to_owned()
    };
    let (user, password) = (format!("tessera-{}", random()), format!("pw-{}", random()));
    let pass_rule = format!(">{password}");
    let rules = tessera_store::redis::acl_rules(prefix);
    let mut args = vec![
        "ACL",
        "SETUSER",
        user.as_str(),
        "reset",
        "on",
        pass_rule.as_str(),
    ];
    args.extend(rules.iter().map(String::as_str));
    let out = tessera_testkit::cli(port, &args);
    assert_eq!(out.trim(), "OK", "ACL SETUSER {args:?}: {out}");
    (user, password)
}

/// The shared standalone server through an ACL user of its own that has exactly Tessera's
/// rules for this store's key prefix.
pub async fn redis_acl() -> Option<Backend> {
    let port = tokio::task::spawn_blocking(|| shared_standalone().map(|s| s.server.port()))
        .await
        .expect("join")?;
    let mut config = unique_config(RedisConfig::standalone(String::new()));
    let prefix = config.key_prefix.clone();
    let (user, password) = tokio::task::spawn_blocking(move || acl_user(port, &prefix))
        .await
        .expect("join");
    config.urls = vec![format!("redis://{user}:{password}@127.0.0.1:{port}")];
    let store = RedisStore::connect(config)
        .await
        .expect("connect as the ACL user");
    Some(Backend {
        store: Arc::new(store.clone()),
        redis: Some(RedisAccess {
            ports: vec![port],
            cluster: false,
            store,
        }),
    })
}

/// The port of the shared standalone server (`None`: no redis-server, loud skip).
pub async fn shared_standalone_port() -> Option<u16> {
    tokio::task::spawn_blocking(|| shared_standalone().map(|s| s.server.port()))
        .await
        .expect("join")
}
