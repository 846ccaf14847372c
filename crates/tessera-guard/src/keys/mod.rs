//! Verification keys for the guard.
//!
//! - [`set`]: [`KeySet`], the keys of a JWKS by `kid`, each pinned to one algorithm.
//! - [`jwks`]: [`JwksKeys`], a JWKS fetched over HTTP, refetched on an unknown `kid` at most
//!   once per interval, refreshed periodically.
//! - [`error`]: [`KeysError`], why keys could not be fetched.

pub mod error;
pub mod jwks;
pub mod set;

pub use error::KeysError;
pub use jwks::JwksKeys;
pub use set::KeySet;
