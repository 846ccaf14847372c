//! Signing keys.
//!
//! - [`alg`]: the algorithms Tessera signs with ([`SigningAlg`]).
//! - [`stored`]: a key as persisted ([`StoredKey`]: PKCS#8 PEM or HMAC secret) and key
//!   generation.
//! - `signer`: the active key parsed once, producing the compact JWS (faster than
//!   `jsonwebtoken::encode`, which re-parses the key each time).
//! - [`ring`]: the [`KeyRing`]: one active signing key plus the retired keys that still verify
//!   tokens they signed; the JWKS; rotation.

pub mod alg;
pub mod ring;
mod signer;
pub mod stored;

pub use alg::SigningAlg;
pub use ring::{KeyRing, VerificationKeys, rotate};
pub use stored::{KeyError, KeyMaterial, StoredKey};
