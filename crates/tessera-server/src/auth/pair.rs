//! The token pair handed to a client.

use serde::Serialize;
use tessera_core::ids::SessionId;

/// `TokenPair` of API.md. With the cookie transport (`TESSERA_TOKEN_TRANSPORT=cookie`) the
/// two token strings travel as cookies only and are absent from the body.
#[derive(Clone, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// Signed access JWT.
    #[schema(required = false)]
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Opaque refresh token.
    #[schema(required = false)]
    pub refresh_token: String,
    /// Seconds the refresh token stays usable if not rotated (idle timeout or absolute
    /// lifetime, whichever comes first).
    pub refresh_expires_in: u64,
    /// The session.
    #[schema(value_type = uuid::Uuid)]
    pub session_id: SessionId,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}
