//! `/v1/mfa/totp*`, `POST /v1/auth/mfa`, `/v1/devices/trusted*`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::{Deserialize, Serialize};
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use super::auth::token_response;
use crate::app::AppState;
use crate::auth::TokenPair;
use crate::auth::second_factor::{Enrolment, TrustedDeviceView};
use crate::auth::sign_in::MfaProof;
use crate::http::ApiError;
use crate::http::extract::{ApiJson, Authenticated, Client};
use crate::http::openapi::Problem;
use crate::mfa::trusted;

/// `POST /v1/auth/mfa` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct MfaRequest {
    challenge_id: String,
    /// A TOTP code or a recovery code.
    #[serde(default)]
    code: Option<String>,
    /// A passkey's assertion (`navigator.credentials.get` answer) instead of a code.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    passkey: Option<Box<webauthn_rs::prelude::PublicKeyCredential>>,
}

/// `POST /v1/auth/mfa`: completes a sign-in challenge with a TOTP or recovery code, or a
/// passkey; sets the trusted-device cookie when the sign-in asked for it.
#[utoipa::path(
    post, path = "/v1/auth/mfa", operation_id = "complete_mfa", tag = "auth",
    request_body = MfaRequest,
    responses(
        (status = 200, description = "Signed in: a `TokenPair` (cookies per the transport)", body = TokenPair),
        (status = 401, description = "`invalid_code` (with `attempts_left`), `challenge_expired`, `invalid_credential` (passkey)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_request` (give exactly one of `code` and `passkey`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts` (sign in again), `rate_limited`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`mfa_unavailable`: the account's second factor cannot be checked now (fails closed)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn complete(
    State(app): State<AppState>,
    client: Client,
    jar: CookieJar,
    ApiJson(req): ApiJson<MfaRequest>,
) -> Result<Response, ApiError> {
    let fingerprint = app.sign_in.fingerprinting().for_sign_in();
    let proof = match (req.code, req.passkey) {
        (Some(code), None) => MfaProof::Code(code),
        (None, Some(passkey)) => MfaProof::Passkey(passkey),
        _ => {
            return Err(ApiError::request(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "give exactly one of code and passkey",
            ));
        }
    };
    let done = app
        .sign_in
        .complete_mfa(
            &req.challenge_id,
            proof,
            fingerprint.as_ref(),
            client.ip,
            Timestamp::now(),
        )
        .await?;
    let jar = match &done.trust {
        Some(cookie) => jar.add(
            Cookie::build((trusted::COOKIE, cookie.value()))
                .http_only(true)
                .secure(true)
                .same_site(SameSite::Strict)
                .path("/")
                .max_age(time::Duration::seconds(
                    i64::try_from(app.settings.trusted_device_ttl.as_secs()).unwrap_or(i64::MAX),
                )),
        ),
        None => jar,
    };
    Ok(token_response(&app, jar, done.pair, fingerprint.as_ref()))
}

/// An answer that holds secrets (a TOTP secret and its QR code, recovery codes): no cache,
/// shared or private, may keep it (`Cache-Control: no-store`, and `Pragma: no-cache` for
/// HTTP/1.0 caches).
fn uncacheable(body: impl Serialize) -> Response {
    (
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        Json(body),
    )
        .into_response()
}

/// `POST /v1/mfa/totp` body: the current password.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct EnrolRequest {
    #[schema(format = Password)]
    password: String,
}

/// `POST /v1/mfa/totp`: starts enrolment (needs the current password). The answer holds the
/// secret: never cached.
#[utoipa::path(
    post, path = "/v1/mfa/totp", operation_id = "enrol_totp", tag = "mfa",
    request_body = EnrolRequest,
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Enrolment pending until confirmed (never cached)", body = Enrolment),
        (status = 401, description = "`invalid_credentials` (the current password), or a token problem", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`mfa_already_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn enrol(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    ApiJson(req): ApiJson<EnrolRequest>,
) -> Result<Response, ApiError> {
    let e = app
        .second_factor
        .enrol_totp(
            &auth.claims,
            Zeroizing::new(req.password),
            &client.info(),
            Timestamp::now(),
        )
        .await?;
    Ok(uncacheable(e))
}

/// `POST /v1/mfa/totp/confirm` → 200.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RecoveryCodes {
    /// Single-use codes that stand in for a TOTP code; shown once.
    pub recovery_codes: Vec<String>,
}

/// `GET /v1/devices/trusted` → 200.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TrustedDevices {
    /// Newest first.
    pub devices: Vec<TrustedDeviceView>,
}

/// `POST /v1/mfa/totp/confirm` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct CodeRequest {
    code: String,
}

/// `POST /v1/mfa/totp/confirm`: turns TOTP on; returns the recovery codes once (never
/// cached).
#[utoipa::path(
    post, path = "/v1/mfa/totp/confirm", operation_id = "confirm_totp", tag = "mfa",
    request_body = CodeRequest,
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "TOTP is on; the recovery codes, shown once (never cached)", body = RecoveryCodes),
        (status = 401, description = "`invalid_code`, or a token problem", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`mfa_not_enabled` (no enrolment pending)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn confirm(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    ApiJson(req): ApiJson<CodeRequest>,
) -> Result<Response, ApiError> {
    let codes = app
        .second_factor
        .confirm_totp(&auth.claims, &req.code, &client.info(), Timestamp::now())
        .await?;
    Ok(uncacheable(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// `DELETE /v1/mfa/totp` body: the current password and a code (TOTP or a recovery code).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct DisableRequest {
    #[schema(format = Password)]
    password: String,
    code: String,
}

/// `DELETE /v1/mfa/totp`: turns TOTP off.
#[utoipa::path(
    delete, path = "/v1/mfa/totp", operation_id = "disable_totp", tag = "mfa",
    request_body = DisableRequest,
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "TOTP is off"),
        (status = 401, description = "`invalid_credentials`, `invalid_code`, or a token problem", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`mfa_not_enabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (the sign-in limits)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn disable(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    ApiJson(req): ApiJson<DisableRequest>,
) -> Result<StatusCode, ApiError> {
    app.second_factor
        .disable_totp(
            &auth.claims,
            Zeroizing::new(req.password),
            &req.code,
            &client.info(),
            Timestamp::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/devices/trusted`.
#[utoipa::path(
    get, path = "/v1/devices/trusted", tag = "account",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "Devices trusted to skip the second factor", body = TrustedDevices),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn trusted_devices(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<Json<TrustedDevices>, ApiError> {
    let devices = app
        .second_factor
        .trusted_devices(auth.claims.sub, Timestamp::now())
        .await?;
    Ok(Json(TrustedDevices { devices }))
}

/// `DELETE /v1/devices/trusted/{id}`.
#[utoipa::path(
    delete, path = "/v1/devices/trusted/{id}", tag = "account",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    params(("id" = String, Path, description = "A trusted device's id")),
    responses(
        (status = 204, description = "The device is no longer trusted"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`device_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn remove_trusted_device(
    State(app): State<AppState>,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.second_factor
        .remove_trusted_device(&auth.claims, &id, Timestamp::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
