//! The state of every Tessera token and session.
//!
//! # Layout
//! - [`store`]: the store traits, one per concern ([`SessionStore`], [`RevocationCheck`],
//!   [`EphemeralStore`], [`UserMaps`], [`EventLog`], [`StoreHealth`]; a file each under
//!   `store/`), and [`StateStore`], all of them together — the contracts every backend keeps,
//!   method by method: what is atomic, what a concurrent caller sees, what publishes a
//!   revocation notice, what writes while it reads.
//! - [`model`]: the values that cross the trait (new sessions, rotation requests, outcomes).
//! - [`ephemeral`]: generic short-lived records for account security (values taken once,
//!   attempt counters, GCRA throttles, per-user maps with per-entry expiry).
//! - `stored`: `StoredHash`, the 16-byte form in which refresh-token hashes and bindings
//!   are stored (truncated in that one place).
//! - [`error`]: [`StoreError`], which separates "the store is unreachable" (answer 503) from
//!   answers it does not understand, a configuration that cannot work and a Redis too old;
//!   each keeps its cause ([`ProtocolError`], [`ConfigError`](error::ConfigError)).
//! - [`memory`]: the in-process backend (the embedded default), same semantics as Redis
//!   (`memory/state/`: the rules, a file per concern, mirroring the Lua scripts).
//! - [`redis`]: the production backend: standalone or Cluster, every atomic change one Lua
//!   script under `redis/scripts/`, every key of one user under the hash tag `{u:<user-id>}`.
//!
//! Time is always passed in (`now`), never read here, so tests control it.

pub mod ephemeral;
pub mod error;
pub mod memory;
pub mod model;
pub mod redis;
pub mod store;
mod stored;

pub use ephemeral::{Attempts, EphemeralKey, MAX_NAME_LEN, Rate, Scope, Throttle};
pub use error::{ProtocolError, StoreError};
pub use model::*;
pub use store::{
    BreakerState, EphemeralStore, EventLog, RevocationCheck, SessionRestore, SessionStore,
    StateStore, StoreHealth, UserMaps,
};
pub use stored::StoredHash;
