//! Tessera's token model and cryptography. Pure: no I/O, no async.
//!
//! # Layout
//! - [`ids`]: typed identifiers for users, sessions and access tokens.
//! - [`time`]: [`time::Timestamp`]; every function that needs "now" takes it as a parameter.
//! - [`keys`]: signing keys, the key ring (active key + keys kept for verification), JWKS.
//! - [`token`]: access tokens: claims, issuing, and the verifier that enforces every rule.
//! - [`refresh`]: opaque refresh tokens, their hashes and successor derivation.

pub mod ids;
pub mod keys;
pub mod refresh;
pub mod time;
pub mod token;
