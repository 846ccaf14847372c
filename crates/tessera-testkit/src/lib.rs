//! Test support shared by every crate's integration tests.
//!
//! - [`services`]: the rule for missing services: a loud skip, or a failure when
//!   `TESSERA_REQUIRE_SERVICES=1` (as `.ci/run` sets).
//! - [`redis_server`]: private `redis-server` processes on free loopback ports (never the
//!   shared 6379), killed with the test process.
//! - [`redis_cluster`]: a private 3-master Redis Cluster.
//! - [`redis_sentinel`]: a private master, replica and sentinels, with failover helpers.
//! - [`redis_tls`]: a private TLS `redis-server` and certificates made by the `openssl` CLI.
//! - [`postgres`]: a throwaway PostgreSQL database per test run, from the admin URL in
//!   `DATABASE_URL`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::disallowed_methods
)]

pub mod postgres;
pub mod redis_cluster;
pub mod redis_sentinel;
pub mod redis_server;
pub mod redis_tls;
pub mod services;

pub use redis_cluster::RedisCluster;
pub use redis_sentinel::RedisSentinel;
pub use redis_server::{RedisServer, TempDir, cli, free_port, redis_available};
pub use redis_tls::{RedisTls, TestCa, tls_available};
