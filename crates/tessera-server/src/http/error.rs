//! Errors as RFC 9457 problem details with a stable `code`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use tessera_store::StoreError;

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
    #[serde(flatten)]
    extra: serde_json::Map<String, serde_json::Value>,
}

/// The federated sign-in's part of [`describe`].
fn describe_federated(
    e: &crate::auth::federated::FederatedError,
) -> (StatusCode, &'static str, String) {
    use crate::auth::federated::FederatedError::*;
    match e {
        UnknownProvider => (
            StatusCode::NOT_FOUND,
            "unknown_provider",
            "no identity provider of that name is configured".into(),
        ),
        InvalidReturnUrl => (
            StatusCode::BAD_REQUEST,
            "invalid_return_url",
            "return_to is missing or not an allowed return URL".into(),
        ),
        InvalidState => (
            StatusCode::BAD_REQUEST,
            "invalid_state",
            "the sign-in state is unknown, expired, already used, or from another browser or provider; start again".into(),
        ),
        Denied(why) => (
            StatusCode::BAD_REQUEST,
            "oauth_denied",
            format!("the identity provider did not grant the sign-in: {}", printable(why)),
        ),
        InvalidIdToken(_) => (
            StatusCode::UNAUTHORIZED,
            "invalid_id_token",
            "the identity provider's answer failed verification".into(),
        ),
        Unavailable(_) => (
            StatusCode::BAD_GATEWAY,
            "provider_unavailable",
            "the identity provider could not be reached; retry shortly".into(),
        ),
        AccountExists => (
            StatusCode::CONFLICT,
            "account_exists",
            "an account with this email exists; sign in to it and link this provider from there".into(),
        ),
        EmailUnverified => (
            StatusCode::BAD_REQUEST,
            "email_unverified",
            "the identity provider did not assert a verified email, which a new account needs".into(),
        ),
        InvalidCode => (
            StatusCode::BAD_REQUEST,
            "invalid_code",
            "the code is unknown, expired, already used or from another browser".into(),
        ),
        IdentityInUse => (
            StatusCode::CONFLICT,
            "identity_in_use",
            "this provider account is linked to another user, or one of this provider is linked already".into(),
        ),
        IdentityNotFound => (
            StatusCode::NOT_FOUND,
            "identity_not_found",
            "no identity of this provider is linked".into(),
        ),
        LastSignInMethod => (
            StatusCode::CONFLICT,
            "last_sign_in_method",
            "this is the account's last way to sign in; set a password or link another provider first".into(),
        ),
    }
}

/// The passkeys' part of [`describe`].
fn describe_passkey(e: &crate::auth::passkeys::PasskeyError) -> (StatusCode, &'static str, String) {
    use crate::auth::passkeys::PasskeyError::*;
    match e {
        InvalidChallenge => (
            StatusCode::BAD_REQUEST,
            "invalid_challenge",
            "the passkey challenge is unknown, expired, already used or not yours; ask for new options".into(),
        ),
        InvalidRegistration(_) => (
            StatusCode::BAD_REQUEST,
            "invalid_credential",
            "the authenticator's answer failed verification".into(),
        ),
        InvalidAssertion | PossibleClone => (
            StatusCode::UNAUTHORIZED,
            "invalid_credential",
            "the passkey could not be verified".into(),
        ),
        InvalidName => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_name",
            "a passkey name is at most 64 characters, without control characters".into(),
        ),
        NotFound => (
            StatusCode::NOT_FOUND,
            "passkey_not_found",
            "no such passkey".into(),
        ),
        TooMany => (
            StatusCode::CONFLICT,
            "too_many_passkeys",
            "this account has the most passkeys allowed (20); remove one first".into(),
        ),
        Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "passkeys_unavailable",
            "passkeys are off on this server: set TESSERA_WEBAUTHN_RP_ID and TESSERA_WEBAUTHN_ORIGINS".into(),
        ),
        LastSignInMethod => (
            StatusCode::CONFLICT,
            "last_sign_in_method",
            "this is the account's last way to sign in; set a password or add another passkey first".into(),
        ),
    }
}

/// Provider-sent text as shown in a problem: printable ASCII, at most 200 characters.
fn printable(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(200)
        .collect()
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
        RateLimited { .. } => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many attempts; try again later".into(),
        ),
        InvalidCode { .. } => (unauthorized, "invalid_code", "the code is not valid".into()),
        ChallengeExpired => (
            unauthorized,
            "challenge_expired",
            "the sign-in challenge is unknown, expired or already used; sign in again".into(),
        ),
        TooManyAttempts => (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_attempts",
            "too many wrong codes for this sign-in; sign in again".into(),
        ),
        MfaAlreadyEnabled => (
            StatusCode::CONFLICT,
            "mfa_already_enabled",
            "two-factor authentication is already enabled".into(),
        ),
        MfaNotEnabled => (
            StatusCode::CONFLICT,
            "mfa_not_enabled",
            "no two-factor enrolment to act on".into(),
        ),
        SecondFactorRequired => (
            unauthorized,
            "mfa_required",
            "this account has a second factor: send its code (TOTP or a recovery code) with the password"
                .into(),
        ),
        MfaUnavailable(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "mfa_unavailable",
            "the second factor of this account cannot be checked right now; the sign-in is refused"
                .into(),
        ),
        DeviceNotFound => (
            StatusCode::NOT_FOUND,
            "device_not_found",
            "no such trusted device".into(),
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
        Federated(f) => describe_federated(f),
        Passkey(p) => describe_passkey(p),
        StateStore(StoreError::Unavailable(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "state_store_unavailable",
            "the token state store is unavailable; retry shortly".into(),
        ),
        Database(crate::accounts::DbError::Unavailable(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the account database is unavailable; retry shortly".into(),
        ),
        // An answer the code does not understand is a bug, not an outage: 500, logged, not
        // counted in `tessera_state_store_unavailable_total`.
        StateStore(
            StoreError::Protocol(_) | StoreError::Misconfigured(_) | StoreError::Incompatible(_),
        )
        | Database(_)
        | Internal(_) => (
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
            // carry no credentials); the client gets only the stable code. While the store's
            // circuit breaker is open every request fails alike without touching Redis: the
            // breaker logs its opening and closing once, and `/metrics` counts the 503s, so
            // the requests are not logged one by one (tens of thousands of lines a second).
            match &self {
                ApiError::Auth(AuthError::StateStore(e)) if e.is_breaker_open() => {
                    tracing::debug!(
                        code,
                        "request failed: the state store's circuit breaker is open"
                    )
                }
                ApiError::Auth(e) => {
                    tracing::error!(code, error = %e, cause = ?std::error::Error::source(e), "request failed")
                }
                ApiError::Request { .. } => tracing::error!(code, "request failed"),
            }
        }
        let mut extra = serde_json::Map::new();
        if let ApiError::Auth(AuthError::InvalidCode {
            attempts_left: Some(n),
        }) = &self
        {
            extra.insert("attempts_left".into(), (*n).into());
        }
        let retry_after = match &self {
            ApiError::Auth(AuthError::RateLimited { retry_after }) => {
                Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0))
            }
            ApiError::Auth(AuthError::TooManyAttempts) => {
                Some(crate::mfa::challenge::TTL.as_secs())
            }
            _ => None,
        };
        let mut res = problem_with(status, code, detail, extra, retry_after);
        if let ApiError::Auth(AuthError::StateStore(StoreError::Unavailable(_))) = &self {
            res.extensions_mut().insert(StateStoreUnavailable);
        }
        res
    }
}

/// Marks a response as a 503 `state_store_unavailable`, for the metrics layer
/// (`tessera_state_store_unavailable_total`).
#[derive(Clone, Copy, Debug)]
pub struct StateStoreUnavailable;

/// Renders a problem+json response.
pub fn problem(status: StatusCode, code: &str, detail: String) -> Response {
    problem_with(status, code, detail, serde_json::Map::new(), None)
}

/// Renders a problem+json response with extension members (RFC 9457 §3.2) and, for 429 and
/// 503, a `Retry-After` of `retry_after` seconds (1 when not given).
pub fn problem_with(
    status: StatusCode,
    code: &str,
    detail: String,
    extra: serde_json::Map<String, serde_json::Value>,
    retry_after: Option<u64>,
) -> Response {
    let body = Problem {
        kind: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        code,
        detail,
        extra,
    };
    let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let mut res = (status, json).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let challenge = match code {
        "missing_token" => Some("Bearer"),
        "invalid_client" => Some("Basic realm=\"tessera\""),
        "invalid_refresh_token" | "refresh_token_reused" => Some("Bearer error=\"invalid_grant\""),
        "invalid_token" | "token_expired" | "token_revoked" | "fingerprint_mismatch" => {
            Some("Bearer error=\"invalid_token\"")
        }
        _ => None,
    };
    if let (StatusCode::UNAUTHORIZED, Some(v)) = (status, challenge) {
        h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(v));
    }
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        let secs = retry_after.unwrap_or(1).max(1);
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            h.insert(header::RETRY_AFTER, v);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_protocol_error_is_a_500_and_not_an_outage() {
        let res = ApiError::from(AuthError::StateStore(StoreError::Protocol("bad".into())))
            .into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(res.extensions().get::<StateStoreUnavailable>().is_none());
        let (_, code, _) = describe(&AuthError::StateStore(StoreError::Protocol("x".into())));
        assert_eq!(code, "internal_error");
        let down = StoreError::Unavailable(Box::new(std::io::Error::other("down")));
        let res = ApiError::from(AuthError::StateStore(down)).into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.extensions().get::<StateStoreUnavailable>().is_some());
    }
}
