//! tessera-guard's integration tests: verification rules, revocation by every path through
//! the near-cache (standalone and Cluster), subscription drop and recovery, Redis outage,
//! JWKS rotation, the HTTP surface, and the dependency rule.
//!
//! Each test gets its own key prefix on a shared private `redis-server` (or Cluster), or a
//! server of its own when it breaks it. Without `redis-server` the Redis tests print a loud
//! notice and pass — unless `TESSERA_REQUIRE_SERVICES=1`.
//!
//! DO NOT add more test binaries for the guard: add cases to `cases/`.
// Tests read the clock: they are an edge.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(unreachable_pub)]

mod cases;
mod support;
