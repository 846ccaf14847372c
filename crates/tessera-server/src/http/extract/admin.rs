//! Admin authentication.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use tessera_core::time::Timestamp;

use super::Client;
use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::ApiError;
use crate::limits::Credential;

/// A request carrying `Authorization: Bearer <TESSERA_ADMIN_TOKEN>` (compared in constant
/// time). Without a configured admin token the admin API is disabled: 403
/// `admin_disabled`; a missing or wrong token (including any user's access token) is 401
/// `admin_required`. Wrong tokens are limited per client address
/// ([`Credential::AdminToken`]), reserved before the compare: past the budget every answer,
/// right token or not, is 429.
#[derive(Clone, Copy, Debug)]
pub struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    #[tracing::instrument(name = "admin", skip_all)]
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(expected) = &state.settings.admin_token else {
            return Err(ApiError::request(
                StatusCode::FORBIDDEN,
                "admin_disabled",
                "the admin API is disabled (no admin token configured)",
            ));
        };
        let ip = Client::from_request_parts(parts, state)
            .await
            .unwrap_or_default()
            .ip;
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .unwrap_or("");
        let limits = &state.limits;
        let now = Timestamp::now();
        // The budget is taken before the compare and given back only for the right token.
        let reservation = limits
            .reserve_credential(Credential::AdminToken, ip, now)
            .await
            .map_err(AuthError::from)?;
        let ok: bool = presented
            .as_bytes()
            .ct_eq(expected.expose_secret().as_bytes())
            .into();
        if ok {
            limits
                .refund(reservation, now)
                .await
                .map_err(AuthError::from)?;
            Ok(Admin)
        } else {
            tracing::warn!(client = ?ip, "wrong admin token");
            Err(ApiError::request(
                StatusCode::UNAUTHORIZED,
                "admin_required",
                "this endpoint needs the admin token",
            ))
        }
    }
}
