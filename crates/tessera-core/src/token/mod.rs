//! Access tokens (RFC 9068 JWT profile).
//!
//! - [`claims`]: [`AccessClaims`], the payload.
//! - [`issue`]: [`TokenIssuer`] signs new tokens with the key ring's active key.
//! - [`verify`]: [`Verifier`] enforces every rule of the design brief; shared by the server and
//!   by `tessera-guard`.
//! - [`error`]: [`VerifyError`], one variant per reason a token is refused.

pub mod claims;
pub mod error;
pub mod issue;
pub mod verified;
pub mod verify;

pub use claims::AccessClaims;
pub use error::VerifyError;
pub use issue::{IssuedToken, TokenIssuer, TokenRequest};
pub use verified::VerifiedTokens;
pub use verify::Verifier;

/// The `typ` header of every Tessera access token (RFC 9068).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
