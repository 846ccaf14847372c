//! The store traits: one narrow trait per concern, and [`StateStore`], all of them together.
//!
//! | trait | methods | who needs it |
//! |---|---|---|
//! | [`SessionStore`] | sessions, refresh families, access grants, revocations | the auth flows |
//! | [`RevocationCheck`] | `check_access` only | the guard, every authenticated request |
//! | [`EphemeralStore`] | values taken once, attempt counters, GCRA throttles | rate limits, challenges, reset tokens |
//! | [`UserMaps`] | per-user maps with per-entry expiry | trusted devices |
//! | [`EventLog`] | recent security events | the audit trail |
//! | [`SessionRestore`] | `restore_session` | the durable mirror, after the store lost a session |
//! | [`StoreHealth`] | statistics, liveness probe, backend name, circuit breaker state | `/readyz`, `/metrics`, admin |
//!
//! Every backend ([`MemoryStore`](crate::memory::MemoryStore),
//! [`RedisStore`](crate::redis::RedisStore), [`ConnectingStore`](crate::redis::ConnectingStore))
//! implements each part, and so [`StateStore`] by the blanket impl. A server holds one
//! `Arc<dyn StateStore>` and hands each consumer the part it needs by upcasting
//! (`let limits: Arc<dyn EphemeralStore> = store.clone();`). One conformance suite
//! (`tests/conformance.rs`) holds every backend to the contracts written on each method.
//!
//! # What the contracts mean
//!
//! - **Atomic** means a concurrent caller sees the state before or after the step, never a
//!   mix. On Redis an atomic step is one Lua script (`redis/scripts/`) on one hash slot, or one
//!   plain command; in memory it is one rule run under the store's one mutex. Each method says
//!   whether it is atomic; [`RevocationCheck::check_access`] on Redis deliberately is not (a
//!   pipeline of reads, see its docs).
//! - **Alive**: a session is alive at `now` when it exists, `now < last_seen + idle_timeout`,
//!   `now < absolute_expiry`, and the user's token version has not moved past the version the
//!   session was opened under (so [`SessionStore::revoke_user`] kills every session even if
//!   an index entry was lost; a missing version counts as revoked). A dead session behaves
//!   exactly like a missing one everywhere.
//! - **Revocation notices**: on Redis, the methods that end sessions or access tokens publish
//!   `u:UID`, `s:UID:SID` or `t:UID:JTI` on the `<prefix>revocations` channel, inside their
//!   script (see [`redis::invalidation`](crate::redis::invalidation)), for the guard's
//!   near-cache. Each method says which. The memory backend publishes nothing (one process,
//!   no near-cache to keep coherent).
//! - **Writes on read paths**: some methods that answer a question also remove dead state
//!   they find (e.g. [`SessionStore::list_sessions`] prunes dead sessions); each says so.
//! - **Expiry**: everything stored expires by itself (TTL) except the per-user token version
//!   and the global statistics counters, intentional durable counters.
//! - **Time** is always passed in (`now`); every decision compares against it, never against
//!   the backend's clock.
//!
//! Errors, for every method: [`StoreError::Unavailable`](crate::StoreError::Unavailable)
//! when the backend cannot be reached — nothing can be assumed about whether the step
//! happened; never for "not found" (that is a result). On Redis (standalone, Sentinel) it
//! is also the answer, at once and without a network call, while the circuit breaker is
//! open (`redis/breaker.rs`).

mod ephemeral;
mod events;
mod health;
mod maps;
mod restore;
mod revocation_check;
mod sessions;

pub use ephemeral::EphemeralStore;
pub use events::EventLog;
pub use health::{BreakerState, StoreHealth};
pub use maps::UserMaps;
pub use restore::SessionRestore;
pub use revocation_check::RevocationCheck;
pub use sessions::SessionStore;

/// Token and session state, every concern together: what a backend implements (part by part;
/// this trait comes by the blanket impl) and what a server holds as one `Arc<dyn StateStore>`.
/// Consumers take the narrowest part they need instead (upcast the `Arc`).
pub trait StateStore:
    SessionStore
    + SessionRestore
    + RevocationCheck
    + EphemeralStore
    + UserMaps
    + EventLog
    + StoreHealth
    + 'static
{
}

impl<T> StateStore for T where
    T: SessionStore
        + SessionRestore
        + RevocationCheck
        + EphemeralStore
        + UserMaps
        + EventLog
        + StoreHealth
        + 'static
{
}
