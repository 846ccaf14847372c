//! The access-token payload.

use serde::{Deserialize, Serialize};

use crate::ids::{Jti, SessionId, UserId};

/// Claims of a Tessera access token. Every field but `fgp` is required when verifying: a
/// token missing one is refused. `exp`, `iat` and `ver` are numbers; a string in their place
/// fails to parse (CVE-2026-25537 class of bugs cannot happen here).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience (one value).
    pub aud: String,
    /// The user.
    pub sub: UserId,
    /// The client the token was issued to (RFC 9068).
    pub client_id: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Token id.
    pub jti: Jti,
    /// Session the token belongs to.
    pub sid: SessionId,
    /// User token version at issue; a lower version than the store's is revoked.
    pub ver: u64,
    /// Authentication methods used (RFC 8176), e.g. `["pwd"]`, `["pwd","otp"]`.
    #[serde(default)]
    pub amr: Vec<String>,
    /// Not before (optional; Tessera does not set it but honours it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// SHA-256 (base64url) of the fingerprint cookie, when fingerprint binding is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fgp: Option<String>,
}
