//! `/v1/mfa/totp*`, `POST /v1/auth/mfa`, `/v1/devices/trusted*`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use super::auth::token_response;
use crate::app::AppState;
use crate::auth::sign_in::MfaProof;
use crate::http::ApiError;
use crate::http::extract::{ApiJson, Authenticated, Client};
use crate::mfa::trusted;

/// `POST /v1/auth/mfa` body.
#[derive(Deserialize)]
pub struct MfaRequest {
    challenge_id: String,
    #[serde(default)]
    code: Option<String>,
    /// A passkey's assertion (`navigator.credentials.get` answer) instead of a code.
    #[serde(default)]
    passkey: Option<Box<webauthn_rs::prelude::PublicKeyCredential>>,
}

/// `POST /v1/auth/mfa`: completes a sign-in challenge with a TOTP or recovery code, or a
/// passkey; sets the trusted-device cookie when the sign-in asked for it.
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
fn uncacheable(body: Value) -> Response {
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
#[derive(Deserialize)]
pub struct EnrolRequest {
    password: String,
}

/// `POST /v1/mfa/totp`: starts enrolment (needs the current password). The answer holds the
/// secret: never cached.
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
    Ok(uncacheable(json!(e)))
}

/// `POST /v1/mfa/totp/confirm` body.
#[derive(Deserialize)]
pub struct CodeRequest {
    code: String,
}

/// `POST /v1/mfa/totp/confirm`: turns TOTP on; returns the recovery codes once (never
/// cached).
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
    Ok(uncacheable(json!({ "recovery_codes": codes })))
}

/// `DELETE /v1/mfa/totp` body: the current password and a code (TOTP or a recovery code).
#[derive(Deserialize)]
pub struct DisableRequest {
    password: String,
    code: String,
}

/// `DELETE /v1/mfa/totp`: turns TOTP off.
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
pub async fn trusted_devices(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let devices = app
        .second_factor
        .trusted_devices(auth.claims.sub, Timestamp::now())
        .await?;
    Ok(Json(json!({ "devices": devices })))
}

/// `DELETE /v1/devices/trusted/{id}`.
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
