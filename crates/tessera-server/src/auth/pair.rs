//! The token pair handed to a client.

use serde::Serialize;
use tessera_core::ids::SessionId;

/// `TokenPair` of API.md.
#[derive(Clone, Serialize)]
pub struct TokenPair {
    /// Signed access JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque refresh token.
    pub refresh_token: String,
    /// Seconds the refresh token stays usable if not rotated (idle timeout or absolute
    /// lifetime, whichever comes first).
    pub refresh_expires_in: u64,
    /// The session.
    pub session_id: SessionId,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}
