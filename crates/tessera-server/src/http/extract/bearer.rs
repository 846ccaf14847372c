//! Bearer authentication.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::ApiError;

/// The caller's access token, verified and checked live against the state store. Rejects
/// with 401 (`missing_token`, `invalid_token`, `token_expired`, `token_revoked`) or 503
/// (`state_store_unavailable`).
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The verified claims.
    pub claims: AccessClaims,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    #[tracing::instrument(name = "authenticate", skip_all)]
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(AuthError::MissingToken)?;
        let claims = state.auth.authenticate(token, Timestamp::now()).await?;
        Ok(Authenticated { claims })
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
