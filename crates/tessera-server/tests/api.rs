//! End-to-end tests of the HTTP API: one behaviour suite run against every backend
//! combination (memory or Redis standalone or Redis Cluster state store, SQLite or PostgreSQL
//! accounts), plus tests of the real `tessera` binary (embedded default, Redis outage, key
//! rotation, third-party verification).
//!
//! One test binary on purpose: each `tests/*.rs` is a separate slow link. Add cases to
//! `cases/`, not new files here.
// Tests read the clock: they are an edge.
#![allow(clippy::disallowed_methods)]
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod cases;
mod common;
