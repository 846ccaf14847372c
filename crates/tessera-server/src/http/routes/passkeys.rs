//! `/v1/passkeys*` and `/v1/auth/passkey*`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::time::Timestamp;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};
use zeroize::Zeroizing;

use super::auth::token_response;
use crate::app::AppState;
use crate::auth::AuthError;
use crate::device::ClientInfo;
use crate::http::ApiError;
use crate::http::extract::{Admin, ApiJson, Authenticated, Client};

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
#[derive(Deserialize)]
pub struct RegisterOptionsRequest {
    password: String,
}

/// `POST /v1/passkeys/register/options` → `{challenge_id, publicKey}`.
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
            &client.info(),
            Timestamp::now(),
        )
        .await?;
    options(id.as_str(), creation)
}

/// `POST /v1/passkeys/register` body.
#[derive(Deserialize)]
pub struct RegisterRequest {
    challenge_id: String,
    #[serde(default)]
    name: Option<String>,
    credential: RegisterPublicKeyCredential,
}

/// `POST /v1/passkeys/register` → 201 `{id, name, created_at}`.
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
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": info.id, "name": info.name, "created_at": info.created_at})),
    )
        .into_response())
}

/// `GET /v1/passkeys`.
pub async fn list(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let passkeys = app.passkeys.list(auth.claims.sub).await?;
    Ok(Json(json!({ "passkeys": passkeys })))
}

/// `DELETE /v1/passkeys/{id}` → 204.
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
#[derive(Deserialize, Default)]
pub struct SignInOptionsRequest {
    #[serde(default)]
    email: Option<String>,
}

/// `POST /v1/auth/passkey/options` → `{challenge_id, publicKey}`.
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
#[derive(Deserialize)]
pub struct SignInRequest {
    challenge_id: String,
    credential: PublicKeyCredential,
}

/// `POST /v1/auth/passkey` → 200 `TokenPair` (cookies per transport).
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
pub async fn admin_remove_all(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = id.parse().map_err(|_| AuthError::UserNotFound)?;
    app.admin.user(user).await?;
    let removed = app.passkeys.remove_all(user, Timestamp::now()).await?;
    Ok(Json(json!({ "removed": removed })))
}
