//! `/v1/passkeys*` and `/v1/auth/passkey*`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera_core::time::Timestamp;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};
use zeroize::Zeroizing;

use super::auth::token_response;
use crate::app::AppState;
use crate::auth::AuthError;
use crate::auth::TokenPair;
use crate::auth::passkeys::PasskeyInfo;
use crate::device::ClientInfo;
use crate::http::ApiError;
use crate::http::extract::{Admin, ApiJson, Authenticated, Client};
use crate::http::openapi::Problem;

/// The options of a ceremony for `navigator.credentials.create` / `.get`: WebAuthn's
/// `publicKey` (creation or request options, binary members in base64url), and the id to
/// answer with.
#[allow(dead_code)] // Described; [`options`] serialises webauthn-rs's own type beside the id.
#[derive(utoipa::ToSchema)]
pub struct CeremonyOptions {
    /// Send it back with the authenticator's answer.
    challenge_id: String,
    /// `PublicKeyCredentialCreationOptions` or `PublicKeyCredentialRequestOptions`.
    #[schema(rename = "publicKey", value_type = Object)]
    public_key: Value,
    /// `conditional` for a discoverable sign-in that autofill may offer.
    mediation: Option<String>,
}

/// `GET /v1/passkeys` → 200.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Passkeys {
    /// The caller's passkeys.
    pub passkeys: Vec<PasskeyInfo>,
}

/// `DELETE /v1/admin/users/{id}/passkeys` → 200.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PasskeysRemoved {
    /// How many were removed.
    pub removed: u64,
}

/// `{challenge_id, ...options}`, never cached.
fn options(challenge_id: &str, options: impl serde::Serialize) -> Result<Response, ApiError> {
    let mut body = serde_json::to_value(options).map_err(|e| AuthError::Internal(e.to_string()))?;
    if let Some(map) = body.as_object_mut() {
        map.insert("challenge_id".into(), Value::from(challenge_id));
    }
    let mut res = Json(body).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `POST /v1/passkeys/register/options` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterOptionsRequest {
    #[schema(format = Password)]
    password: String,
    /// A code of the account's second factor (TOTP or a recovery code): required when the
    /// account has one, since a passkey signs in without it.
    #[serde(default)]
    code: Option<String>,
}

/// `POST /v1/passkeys/register/options` → `{challenge_id, publicKey}`.
#[utoipa::path(
    post, path = "/v1/passkeys/register/options", operation_id = "passkey_register_options", tag = "passkeys",
    request_body = RegisterOptionsRequest,
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Creation options (never cached)", body = CeremonyOptions),
        (status = 401, description = "`invalid_credentials` (the current password), `mfa_required` (the account has a second factor and no `code` was sent), `invalid_code`, or a token problem", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`too_many_passkeys`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`passkeys_unavailable` (no relying party configured)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn register_options(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    ApiJson(req): ApiJson<RegisterOptionsRequest>,
) -> Result<Response, ApiError> {
    let (id, creation) = app
        .passkeys
        .register_options(
            auth.claims.sub,
            Zeroizing::new(req.password),
            req.code.as_deref(),
            &client.info(),
            Timestamp::now(),
        )
        .await?;
    options(id.as_str(), creation)
}

/// `POST /v1/passkeys/register` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterRequest {
    challenge_id: String,
    #[serde(default)]
    name: Option<String>,
    /// The answer of `navigator.credentials.create` (`toJSON()`).
    #[schema(value_type = Object)]
    credential: RegisterPublicKeyCredential,
}

/// `POST /v1/passkeys/register` → 201 `{id, name, created_at}`.
#[utoipa::path(
    post, path = "/v1/passkeys/register", operation_id = "register_passkey", tag = "passkeys",
    request_body = RegisterRequest,
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 201, description = "The passkey is registered", body = PasskeyInfo),
        (status = 400, description = "`invalid_credential`, `invalid_challenge`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`too_many_passkeys`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_name`, `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`passkeys_unavailable`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn register(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    let info = app
        .passkeys
        .register(
            auth.claims.sub,
            &req.challenge_id,
            req.name.as_deref(),
            &req.credential,
            &client.info(),
            Timestamp::now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// `GET /v1/passkeys`.
#[utoipa::path(
    get, path = "/v1/passkeys", operation_id = "list_passkeys", tag = "passkeys",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "The caller's passkeys", body = Passkeys),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Passkeys>, ApiError> {
    let passkeys = app.passkeys.list(auth.claims.sub).await?;
    Ok(Json(Passkeys { passkeys }))
}

/// `DELETE /v1/passkeys/{id}` → 204.
#[utoipa::path(
    delete, path = "/v1/passkeys/{id}", operation_id = "remove_passkey", tag = "passkeys",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    params(("id" = String, Path, description = "A passkey's id")),
    responses(
        (status = 204, description = "The passkey is removed"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`passkey_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_sign_in_method`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn remove(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.passkeys
        .remove(auth.claims.sub, &id, &client.info(), Timestamp::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/auth/passkey/options` body.
#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct SignInOptionsRequest {
    #[serde(default)]
    #[schema(format = Email)]
    email: Option<String>,
}

/// `POST /v1/auth/passkey/options` → `{challenge_id, publicKey}`.
#[utoipa::path(
    post, path = "/v1/auth/passkey/options", operation_id = "passkey_sign_in_options", tag = "auth",
    request_body = SignInOptionsRequest,
    responses(
        (status = 200, description = "Request options (the same for every email; never cached)", body = CeremonyOptions),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`passkeys_unavailable`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn sign_in_options(
    State(app): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<SignInOptionsRequest>,
) -> Result<Response, ApiError> {
    let (id, request) = app
        .passkeys
        .sign_in_options(req.email.as_deref(), client.ip, Timestamp::now())
        .await?;
    options(id.as_str(), request)
}

/// `POST /v1/auth/passkey` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct SignInRequest {
    challenge_id: String,
    /// The answer of `navigator.credentials.get` (`toJSON()`).
    #[schema(value_type = Object)]
    credential: PublicKeyCredential,
}

/// `POST /v1/auth/passkey` → 200 `TokenPair` (cookies per transport).
#[utoipa::path(
    post, path = "/v1/auth/passkey", operation_id = "passkey_sign_in", tag = "auth",
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in: a `TokenPair` (a passkey with user verification is two factors on its own)", body = TokenPair),
        (status = 400, description = "`invalid_challenge`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credential`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`passkeys_unavailable`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn sign_in(
    State(app): State<AppState>,
    client: Client,
    jar: CookieJar,
    ApiJson(req): ApiJson<SignInRequest>,
) -> Result<Response, ApiError> {
    let info = ClientInfo::new(client.user_agent.as_deref(), client.ip, None);
    let fingerprint = app.sign_in.fingerprinting().for_sign_in();
    let pair = app
        .passkeys
        .sign_in(
            &req.challenge_id,
            &req.credential,
            info,
            fingerprint.as_ref(),
            Timestamp::now(),
        )
        .await?;
    Ok(token_response(&app, jar, pair, fingerprint.as_ref()))
}

/// `DELETE /v1/admin/users/{id}/passkeys` → 200 `{removed}`: an operator removes every
/// passkey of a user (a lost or compromised authenticator).
#[utoipa::path(
    delete, path = "/v1/admin/users/{id}/passkeys", operation_id = "admin_remove_passkeys", tag = "admin",
    security(("admin" = [])),
    params(("id" = String, Path, description = "A user id")),
    responses(
        (status = 200, description = "Every passkey of the user is removed", body = PasskeysRemoved),
        (status = 401, description = "`admin_required` (no or a wrong admin key, a token without the admin scope)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`admin_disabled` (no admin key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn admin_remove_all(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<PasskeysRemoved>, ApiError> {
    let user = id.parse().map_err(|_| AuthError::UserNotFound)?;
    app.admin.user(user).await?;
    let removed = app.passkeys.remove_all(user, Timestamp::now()).await?;
    Ok(Json(PasskeysRemoved { removed }))
}
