//! Errors as RFC 9457 problem details with a stable `code`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::auth::AuthError;

/// Everything a handler can answer besides success.
#[derive(Debug)]
pub enum ApiError {
    /// A domain outcome.
    Auth(AuthError),
    /// The request itself is unusable.
    Request {
        /// Status (400, 404, 405, 413, 415, 422).
        status: StatusCode,
        /// Stable code.
        code: &'static str,
        /// Human explanation (never internal text).
        detail: String,
    },
}

impl ApiError {
    /// A request error.
    pub fn request(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Request {
            status,
            code,
            detail: detail.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Auth(e)
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

/// Status, code and client-facing detail of a domain error. The single table.
fn describe(e: &AuthError) -> (StatusCode, &'static str, String) {
    use AuthError::*;
    let unauthorized = StatusCode::UNAUTHORIZED;
    match e {
        EmailTaken => (
            StatusCode::CONFLICT,
            "email_taken",
            "an account with this email exists".into(),
        ),
        InvalidEmail => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_email",
            "not a valid email address".into(),
        ),
        WeakPassword(w) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "weak_password",
            w.to_string(),
        ),
        InvalidCredentials => (
            unauthorized,
            "invalid_credentials",
            "email or password is wrong".into(),
        ),
        AccountDisabled => (
            StatusCode::FORBIDDEN,
            "account_disabled",
            "this account is disabled".into(),
        ),
        MissingToken => (
            unauthorized,
            "missing_token",
            "an access token is required".into(),
        ),
        InvalidToken(v) => (
            unauthorized,
            "invalid_token",
            format!("the access token is not valid: {v}"),
        ),
        TokenExpired => (
            unauthorized,
            "token_expired",
            "the access token has expired".into(),
        ),
        TokenRevoked => (
            unauthorized,
            "token_revoked",
            "the access token has been revoked".into(),
        ),
        FingerprintMismatch => (
            unauthorized,
            "fingerprint_mismatch",
            "the access token is bound to a fingerprint cookie this request does not carry".into(),
        ),
        SessionNotFound => (
            StatusCode::NOT_FOUND,
            "session_not_found",
            "no such session".into(),
        ),
        TokenNotFound => (
            StatusCode::NOT_FOUND,
            "token_not_found",
            "no such access token".into(),
        ),
        UserNotFound => (
            StatusCode::NOT_FOUND,
            "user_not_found",
            "no such user".into(),
        ),
        InvalidRefreshToken => (
            unauthorized,
            "invalid_refresh_token",
            "the refresh token is not valid".into(),
        ),
        RefreshTokenReused => (
            unauthorized,
            "refresh_token_reused",
            "this refresh token was already used; the session has been revoked".into(),
        ),
        InvalidResetToken => (
            StatusCode::BAD_REQUEST,
            "invalid_reset_token",
            "the password-reset token is not valid, has expired or was already used".into(),
        ),
        InvalidClient => (
            unauthorized,
            "invalid_client",
            "client authentication failed".into(),
        ),
        StateStore(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "state_store_unavailable",
            "the token state store is unavailable; retry shortly".into(),
        ),
        Database(crate::accounts::DbError::Unavailable(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the account database is unavailable; retry shortly".into(),
        ),
        Database(_) | Internal(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "an internal error occurred".into(),
        ),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, detail) = match &self {
            ApiError::Auth(e) => describe(e),
            ApiError::Request {
                status,
                code,
                detail,
            } => (*status, *code, detail.clone()),
        };
        if status.is_server_error() {
            // The cause goes to the log (it holds no secrets: store, SQL and hashing errors
            // carry no credentials); the client gets only the stable code.
            match &self {
                ApiError::Auth(e) => {
                    tracing::error!(code, error = %e, cause = ?std::error::Error::source(e), "request failed")
                }
                ApiError::Request { .. } => tracing::error!(code, "request failed"),
            }
        }
        problem(status, code, detail)
    }
}

/// Renders a problem+json response.
pub fn problem(status: StatusCode, code: &str, detail: String) -> Response {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        code,
        detail,
    };
    let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = (status, json).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED && code != "invalid_credentials" {
        let v = match code {
            "missing_token" => "Bearer",
            "invalid_client" => "Basic realm=\"tessera\"",
            "invalid_refresh_token" | "refresh_token_reused" => "Bearer error=\"invalid_grant\"",
            _ => "Bearer error=\"invalid_token\"",
        };
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}
