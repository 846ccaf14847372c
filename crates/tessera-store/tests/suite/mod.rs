//! The behaviour every backend must show. Each case takes the store under test; the macro
//! in `conformance.rs` runs every case against every backend.

pub mod access;
pub mod acl;
pub mod binding;
pub mod ephemeral;
pub mod events;
pub mod failover;
pub mod find;
pub mod generations;
pub mod grants;
pub mod outage;
pub mod publish;
pub mod redis_only;
pub mod refresh;
pub mod restore;
pub mod sessions;
pub mod stats;
pub mod tls;

pub use access::*;
pub use binding::*;
pub use ephemeral::*;
pub use events::*;
pub use find::*;
pub use generations::*;
pub use grants::*;
pub use refresh::*;
pub use restore::*;
pub use sessions::*;
pub use stats::*;
