//! The backend combinations the suite runs against.

use std::sync::OnceLock;

use tessera_testkit::postgres::TempDatabase;
use tessera_testkit::{RedisCluster, RedisServer, TempDir, free_port, redis_available};

/// State store × SQL database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// In-process state store, SQLite file.
    MemorySqlite,
    /// Private standalone redis-server, SQLite file.
    RedisSqlite,
    /// Private 3-master Redis Cluster, SQLite file.
    ClusterSqlite,
    /// In-process state store, throwaway PostgreSQL database.
    MemoryPostgres,
    /// Private standalone redis-server, throwaway PostgreSQL database.
    RedisPostgres,
}

/// What a backend needs at runtime; `None` fields mean the default (memory / SQLite).
pub struct Resources {
    pub redis_url: Option<String>,
    pub cluster: bool,
    pub database: Option<TempDatabase>,
}

struct Standalone {
    server: RedisServer,
    _dir: TempDir,
}

fn standalone() -> Option<&'static Standalone> {
    static S: OnceLock<Option<Standalone>> = OnceLock::new();
    S.get_or_init(|| {
        redis_available().then(|| {
            let dir = TempDir::new("api-standalone");
            let server = RedisServer::start(free_port(), dir.path(), &[]);
            Standalone { server, _dir: dir }
        })
    })
    .as_ref()
}

fn cluster() -> Option<&'static RedisCluster> {
    static C: OnceLock<Option<RedisCluster>> = OnceLock::new();
    C.get_or_init(|| redis_available().then(RedisCluster::start))
        .as_ref()
}

impl Backend {
    /// Starts or reuses what the backend needs; `None` when a service is missing (after a
    /// loud skip message, or a panic under `TESSERA_REQUIRE_SERVICES=1`).
    pub async fn resources(self) -> Option<Resources> {
        let (redis_url, cluster_mode) = match self {
            Backend::RedisSqlite | Backend::RedisPostgres => {
                let s = tokio::task::spawn_blocking(standalone).await.ok()??;
                (Some(s.server.url()), false)
            }
            Backend::ClusterSqlite => {
                let c = tokio::task::spawn_blocking(cluster).await.ok()??;
                (Some(c.urls().join(",")), true)
            }
            Backend::MemorySqlite | Backend::MemoryPostgres => (None, false),
        };
        let database = match self {
            Backend::MemoryPostgres | Backend::RedisPostgres => Some(TempDatabase::create().await?),
            _ => None,
        };
        Some(Resources {
            redis_url,
            cluster: cluster_mode,
            database,
        })
    }
}
