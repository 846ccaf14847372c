//! `/v1/admin/*` (admin token required).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::ApiError;
use crate::http::extract::{Admin, ApiJson};
use crate::http::openapi::Problem;
use crate::http::routes::federation::Identities;
use crate::http::routes::sessions::Sessions;

/// `GET /v1/admin/stats` → 200.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AdminStats {
    /// Live sessions (the store's counter, reconciled in the background).
    sessions_active: u64,
    /// Unexpired access tokens of live sessions.
    access_tokens_active: u64,
    /// Access tokens revoked since the store began counting.
    revoked_tokens: u64,
    /// Accounts.
    users: u64,
    /// `redis` or `memory`; the member of that name holds the backend's own figures
    /// (`used_memory`, `keys`, …).
    state_store: &'static str,
    /// The backend's figures, under the backend's name.
    #[serde(flatten)]
    #[schema(value_type = BTreeMap<String, BTreeMap<String, String>>)]
    backend: BTreeMap<&'static str, BTreeMap<String, String>>,
}

const USER: &str = "A user id";

fn user_id(id: &str) -> Result<UserId, ApiError> {
    id.parse().map_err(|_| AuthError::UserNotFound.into())
}

/// `GET /v1/admin/stats`: counters kept by the state store, accounts, backend facts.
#[utoipa::path(
    get, path = "/v1/admin/stats", tag = "admin",
    security(("admin" = [])),
    responses(
        (status = 200, description = "Counters of the state store and the accounts", body = AdminStats),
        (status = 401, description = "`admin_required` (no or a wrong admin key, a token without the admin scope)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`admin_disabled` (no admin key is configured)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn stats(State(app): State<AppState>, _: Admin) -> Result<Json<AdminStats>, ApiError> {
    let s = app.admin.stats(Timestamp::now()).await?;
    Ok(Json(AdminStats {
        sessions_active: s.store.sessions_active,
        access_tokens_active: s.store.access_tokens_active,
        revoked_tokens: s.store.revoked_tokens,
        users: s.users,
        state_store: s.backend,
        backend: BTreeMap::from([(s.backend, s.store.backend)]),
    }))
}

/// `GET /v1/admin/users/{id}/sessions`.
#[utoipa::path(
    get, path = "/v1/admin/users/{id}/sessions", tag = "admin",
    security(("admin" = [])),
    params(("id" = String, Path, description = USER)),
    responses(
        (status = 200, description = "The user's live sessions", body = Sessions),
        (status = 401, description = "`admin_required` (no or a wrong admin key, a token without the admin scope)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`admin_disabled` (no admin key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn user_sessions(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Sessions>, ApiError> {
    let sessions = app
        .admin
        .user_sessions(user_id(&id)?, Timestamp::now())
        .await?;
    Ok(Json(Sessions { sessions }))
}

/// `GET /v1/admin/users/{id}/identities`: the user's linked provider accounts.
#[utoipa::path(
    get, path = "/v1/admin/users/{id}/identities", tag = "admin",
    security(("admin" = [])),
    params(("id" = String, Path, description = USER)),
    responses(
        (status = 200, description = "The user's linked provider accounts", body = Identities),
        (status = 401, description = "`admin_required` (no or a wrong admin key, a token without the admin scope)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`admin_disabled` (no admin key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn user_identities(
    State(app): State<AppState>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Identities>, ApiError> {
    let user = user_id(&id)?;
    app.admin.user(user).await?;
    Ok(Json(super::federation::identities_body(&app, user).await?))
}

/// `POST /v1/admin/users/{id}/revoke-sessions`.
#[utoipa::path(
    post, path = "/v1/admin/users/{id}/revoke-sessions", tag = "admin",
    security(("admin" = [])),
    params(("id" = String, Path, description = USER)),
    responses(
        (status = 204, description = "Every session of the user is revoked"),
        (status = 401, description = "`admin_required` (no or a wrong admin key, a token without the admin scope)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`admin_disabled` (no admin key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
#[derive(Deserialize, utoipa::ToSchema)]
pub struct BanRequest {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /v1/admin/users/{id}/ban` `{reason}`.
#[utoipa::path(
    post, path = "/v1/admin/users/{id}/ban", tag = "admin",
    request_body = BanRequest,
    security(("admin" = [])),
    params(("id" = String, Path, description = USER)),
    responses(
        (status = 204, description = "Banned: every session revoked; sign-in and refresh answer 403 `account_disabled`"),
        (status = 401, description = "`admin_required` (no or a wrong admin key, a token without the admin scope)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`admin_disabled` (no admin key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
#[utoipa::path(
    delete, path = "/v1/admin/users/{id}/ban", tag = "admin",
    security(("admin" = [])),
    params(("id" = String, Path, description = USER)),
    responses(
        (status = 204, description = "The ban is lifted"),
        (status = 401, description = "`admin_required` (no or a wrong admin key, a token without the admin scope)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`admin_disabled` (no admin key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
#[utoipa::path(
    delete, path = "/v1/admin/users/{id}/mfa", tag = "admin",
    security(("admin" = [])),
    params(("id" = String, Path, description = USER)),
    responses(
        (status = 204, description = "The user's second factor, recovery codes and trusted devices are removed (also when none was enrolled)"),
        (status = 401, description = "`admin_required` (no or a wrong admin key, a token without the admin scope)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`admin_disabled` (no admin key is configured)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`user_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
