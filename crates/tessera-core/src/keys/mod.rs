//! Signing keys.
//!
//! - [`alg`]: the algorithms Tessera signs with ([`SigningAlg`]).
//! - [`stored`]: a key as persisted ([`StoredKey`]: PKCS#8 PEM or HMAC secret) and key
//!   generation.
//! - [`ring`]: the [`KeyRing`]: one active signing key plus the retired keys that still verify
//!   tokens they signed; the JWKS; rotation.

pub mod alg;
pub mod ring;
pub mod stored;

pub use alg::SigningAlg;
pub use ring::{KeyRing, VerificationKeys, rotate};
pub use stored::{KeyError, KeyMaterial, StoredKey};
