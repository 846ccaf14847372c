//! `/v1/sessions`, `/v1/tokens`, `/v1/devices/trusted`, `/v1/security-events`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::ids::{Jti, SessionId};
use tessera_core::time::Timestamp;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::ApiError;
use crate::http::extract::{Authenticated, Client};

/// `GET /v1/sessions`: the caller's live sessions with their devices.
pub async fn list(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    let sessions = app
        .sessions
        .list(auth.claims.sub, Some(auth.claims.sid), Timestamp::now())
        .await?;
    Ok(Json(json!({ "sessions": sessions })))
}

/// `DELETE /v1/sessions/{id}`: signs that device out.
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
#[derive(Deserialize)]
pub struct EventsQuery {
    /// At most this many (1–100, default 50).
    limit: Option<usize>,
    /// Only events strictly older than this RFC 3339 time.
    before: Option<String>,
}

/// `GET /v1/security-events?limit=&before=`: newest first.
pub async fn security_events(
    State(app): State<AppState>,
    auth: Authenticated,
    Query(q): Query<EventsQuery>,
) -> Result<Json<Value>, ApiError> {
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
    Ok(Json(json!({ "events": events })))
}

fn parse_time(s: &str) -> Option<Timestamp> {
    let t = humantime::parse_rfc3339_weak(s).ok()?;
    let ms = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    Some(Timestamp::from_millis(i64::try_from(ms).ok()?))
}
