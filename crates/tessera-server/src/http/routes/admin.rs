//! `/v1/admin/*` (admin token required).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::ApiError;
use crate::http::extract::{Admin, ApiJson};

fn user_id(id: &str) -> Result<UserId, ApiError> {
    id.parse().map_err(|_| AuthError::UserNotFound.into())
}

/// `GET /v1/admin/stats`: counters kept by the state store, accounts, backend facts.
pub async fn stats(State(app): State<AppState>, _: Admin) -> Result<Json<Value>, ApiError> {
    let s = app.admin.stats(Timestamp::now()).await?;
    Ok(Json(json!({
        "sessions_active": s.store.sessions_active,
        "access_tokens_active": s.store.access_tokens_active,
        "revoked_tokens": s.store.revoked_tokens,
        "users": s.users,
        "state_store": s.backend,
        s.backend: s.store.backend,
    })))
}

/// `GET /v1/admin/users/{id}/sessions`.
pub async fn user_sessions(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let sessions = app
        .admin
        .user_sessions(user_id(&id)?, Timestamp::now())
        .await?;
    Ok(Json(json!({ "sessions": sessions })))
}

/// `GET /v1/admin/users/{id}/identities`: the user's linked provider accounts.
pub async fn user_identities(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = user_id(&id)?;
    app.admin.user(user).await?;
    Ok(Json(super::federation::identities_body(&app, user).await?))
}

/// `POST /v1/admin/users/{id}/revoke-sessions`.
pub async fn revoke_sessions(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.admin
        .revoke_sessions(user_id(&id)?, Timestamp::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/admin/users/{id}/ban` body.
#[derive(Deserialize)]
pub struct BanRequest {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/admin/users/{id}/ban` `{reason}`.
pub async fn ban(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<BanRequest>,
) -> Result<StatusCode, ApiError> {
    let reason = req.reason.unwrap_or_default();
    app.admin
        .ban(user_id(&id)?, &reason, Timestamp::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/admin/users/{id}/ban`.
pub async fn unban(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.admin.unban(user_id(&id)?, Timestamp::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/admin/users/{id}/mfa`: removes the user's second factor, recovery codes and
/// trusted devices, records `mfa_reset_by_admin` and mails the user. 204 also when nothing
/// was enrolled (idempotent; then nothing happens); 404 `user_not_found` for an unknown user.
pub async fn reset_mfa(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.admin
        .reset_mfa(user_id(&id)?, &app.mailer, Timestamp::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
