//! Authentication of a request by its access token.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::ApiError;
use crate::http::cookies::{self, SentCookies};

/// The caller's access token, verified, fingerprint-checked and checked live against the
/// state store. The token comes from `Authorization: Bearer`, or — with cookie transport on
/// and no `Authorization` header — from the `__Host-tessera_at` cookie, in which case a
/// state-changing method (POST, PUT, PATCH, DELETE) must carry `X-CSRF-Token` equal to the
/// `__Host-tessera_csrf` cookie, whose value must be the CSRF token of the access token's
/// session (else 403 `csrf_failed`). Rejects with 401 (`missing_token`,
/// `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`) or 503
/// (`state_store_unavailable`).
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The verified claims.
    pub claims: AccessClaims,
    /// Whether the token came from the cookie (so logout clears the cookies).
    pub via_cookie: bool,
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    // Debug level: at the default `info` a span per authenticated request costs more than
    // it tells; the enclosing `http` span already names the route.
    #[tracing::instrument(name = "authenticate", level = "debug", skip_all)]
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let sent = SentCookies::from_headers(&parts.headers);
        let (token, csrf) = match bearer(parts) {
            Some(t) => (t.to_owned(), None),
            None => {
                let cookie = state
                    .settings
                    .token_transport
                    .cookies()
                    .then(|| sent.get(cookies::ACCESS))
                    .flatten()
                    .map(str::to_owned)
                    .ok_or(AuthError::MissingToken)?;
                let csrf = if is_state_changing(&parts.method) {
                    Some(cookies::csrf_echoed(&sent, &parts.headers).ok_or_else(csrf_failed)?)
                } else {
                    None
                };
                (cookie, Some(csrf))
            }
        };
        let fingerprint = cookies::fingerprint_of(&sent);
        let claims = state
            .access
            .authenticate(&token, fingerprint.as_ref(), Timestamp::now())
            .await?;
        if let Some(Some(value)) = &csrf
            && !state.access.csrf_matches(claims.sid, value)
        {
            return Err(csrf_failed());
        }
        Ok(Authenticated {
            claims,
            via_cookie: csrf.is_some(),
        })
    }
}

/// 403 `csrf_failed`.
pub fn csrf_failed() -> ApiError {
    ApiError::request(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "a cookie-authenticated request must send the __Host-tessera_csrf cookie value of its session in X-CSRF-Token",
    )
}

/// POST, PUT, PATCH and DELETE.
pub fn is_state_changing(m: &Method) -> bool {
    matches!(
        *m,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
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
