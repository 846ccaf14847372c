//! `/v1/sessions`, `/v1/tokens`, `/v1/devices/trusted`, `/v1/security-events`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use tessera_core::ids::{Jti, SessionId};
use tessera_core::time::Timestamp;

use crate::app::AppState;
use crate::audit::SecurityEvent;
use crate::auth::AuthError;
use crate::auth::sessions::SessionView;
use crate::http::ApiError;
use crate::http::extract::{Authenticated, Client};
use crate::http::openapi::Problem;

/// `GET /v1/sessions`, `GET /v1/admin/users/{id}/sessions`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Sessions {
    /// Live sessions, each with its device.
    pub sessions: Vec<SessionView>,
}

/// `GET /v1/security-events`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SecurityEvents {
    /// Newest first, each as it was recorded.
    #[schema(value_type = Vec<SecurityEvent>)]
    pub events: Vec<serde_json::Value>,
}

/// `GET /v1/sessions`: the caller's live sessions with their devices.
#[utoipa::path(
    get, path = "/v1/sessions", operation_id = "list_sessions", tag = "account",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "The caller's live sessions", body = Sessions),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Sessions>, ApiError> {
    let sessions = app
        .sessions
        .list(auth.claims.sub, Some(auth.claims.sid), Timestamp::now())
        .await?;
    Ok(Json(Sessions { sessions }))
}

/// `DELETE /v1/sessions/{id}`: signs that device out.
#[utoipa::path(
    delete, path = "/v1/sessions/{id}", operation_id = "end_session", tag = "account",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    params(("id" = String, Path, description = "A session id")),
    responses(
        (status = 204, description = "That device is signed out"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`session_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn end(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let session: SessionId = id.parse().map_err(|_| AuthError::SessionNotFound)?;
    let info = client.info();
    app.sessions
        .end_session(&auth.claims, session, &info, Timestamp::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v1/tokens/{jti}`: that one access token stops working.
#[utoipa::path(
    delete, path = "/v1/tokens/{jti}", tag = "account",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    params(("jti" = String, Path, description = "The `jti` of one of the caller's access tokens")),
    responses(
        (status = 204, description = "That one access token stops working"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`token_not_found`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn revoke_token(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    Path(jti): Path<String>,
) -> Result<StatusCode, ApiError> {
    let jti: Jti = jti.parse().map_err(|_| AuthError::TokenNotFound)?;
    let info = client.info();
    app.sessions
        .revoke_own_token(&auth.claims, jti, &info, Timestamp::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Paging of `GET /v1/security-events`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// At most this many (1–100, default 50; empty counts as absent, as for `before`).
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "empty_as_none")]
    limit: Option<usize>,
    /// Only events strictly older than this RFC 3339 time.
    before: Option<String>,
}

/// `GET /v1/security-events?limit=&before=`: newest first.
#[utoipa::path(
    get, path = "/v1/security-events", tag = "account",
    security(("bearer" = []), ("access_cookie" = [])),
    params(EventsQuery),
    responses(
        (status = 200, description = "The caller's security events, newest first", body = SecurityEvents),
        (status = 400, description = "`invalid_request` (`before` is not an RFC 3339 time)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn security_events(
    State(app): State<AppState>,
    auth: Authenticated,
    Query(q): Query<EventsQuery>,
) -> Result<Json<SecurityEvents>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 100);
    let before = match q.before.as_deref() {
        None | Some("") => None,
        Some(s) => Some(parse_time(s).ok_or_else(|| {
            ApiError::request(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "`before` must be an RFC 3339 time",
            )
        })?),
    };
    let events = app
        .sessions
        .security_events(auth.claims.sub, limit, before, Timestamp::now())
        .await?;
    Ok(Json(SecurityEvents { events }))
}

/// A query number whose empty value (`limit=`) counts as absent; anything else must parse.
fn empty_as_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<usize>, D::Error> {
    let text = <Option<String> as serde::Deserialize>::deserialize(d)?;
    match text.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) => n.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

fn parse_time(s: &str) -> Option<Timestamp> {
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    let ms = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    Some(Timestamp::from_millis(i64::try_from(ms).ok()?))
}
