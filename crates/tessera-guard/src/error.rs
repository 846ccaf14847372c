//! Why a request is refused ([`GuardError`], with its HTTP response) and why a guard could
//! not be built ([`BuildError`]).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::token::VerifyError;
use tessera_store::StoreError;

use crate::keys::KeysError;

/// Why a request was refused. The response is an RFC 9457 problem with the same stable
/// `code` the Tessera server uses; 401s carry `WWW-Authenticate: Bearer` (RFC 6750).
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    /// No `Authorization: Bearer` header. 401 `missing_token`.
    #[error("no bearer token")]
    MissingToken,
    /// The token failed verification (signature, header rules, claims, time). 401
    /// `invalid_token`, or `token_expired` for [`VerifyError::Expired`].
    #[error("invalid token: {0}")]
    InvalidToken(#[source] VerifyError),
    /// The token verifies but its session, user or jti has been revoked. 401
    /// `token_revoked`.
    #[error("token revoked")]
    Revoked,
    /// Redis could not be asked and the guard fails closed. 503
    /// `state_store_unavailable`, `Retry-After: 1`.
    #[error("state store unavailable")]
    Unavailable(#[source] StoreError),
    /// [`Authenticated`](crate::Authenticated) was used on a route with neither the
    /// [`GuardLayer`](crate::GuardLayer) nor the [`Guard`](crate::Guard) as a request
    /// extension. 500: a bug in the service, not the client's fault.
    #[error("tessera-guard is not installed on this route")]
    NotInstalled,
}

impl GuardError {
    /// HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            GuardError::MissingToken | GuardError::InvalidToken(_) | GuardError::Revoked => {
                StatusCode::UNAUTHORIZED
            }
            GuardError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            GuardError::NotInstalled => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Stable problem `code` (the server's vocabulary).
    pub fn code(&self) -> &'static str {
        match self {
            GuardError::MissingToken => "missing_token",
            GuardError::InvalidToken(VerifyError::Expired) => "token_expired",
            GuardError::InvalidToken(_) => "invalid_token",
            GuardError::Revoked => "token_revoked",
            GuardError::Unavailable(_) => "state_store_unavailable",
            GuardError::NotInstalled => "internal_error",
        }
    }

    fn detail(&self) -> String {
        match self {
            GuardError::MissingToken => "an access token is required".into(),
            GuardError::InvalidToken(VerifyError::Expired) => "the access token has expired".into(),
            GuardError::InvalidToken(v) => format!("the access token is not valid: {v}"),
            GuardError::Revoked => "the access token has been revoked".into(),
            GuardError::Unavailable(_) => {
                "the token state store is unavailable; retry shortly".into()
            }
            GuardError::NotInstalled => "an internal error occurred".into(),
        }
    }
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: String,
}

impl IntoResponse for GuardError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        if status.is_server_error() {
            tracing::error!(code, error = %self, cause = ?std::error::Error::source(&self), "request refused");
        }
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            code,
            detail: self.detail(),
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut res = (status, json).into_response();
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            let v = match self {
                GuardError::MissingToken => "Bearer",
                _ => "Bearer error=\"invalid_token\"",
            };
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        res
    }
}

/// Why [`Guard::connect`](crate::Guard::connect) failed. Redis being unreachable is *not*
/// one: the guard then starts, answers 503 (fail-closed) and connects in the background.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Redis configuration cannot work (no URL, a key prefix with `{` or `}`).
    #[error("invalid redis configuration: {0}")]
    Redis(String),
    /// The JWKS URL or HTTP client cannot work.
    #[error("invalid JWKS configuration")]
    Keys(#[source] KeysError),
}
