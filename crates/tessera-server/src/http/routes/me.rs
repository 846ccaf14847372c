//! `GET /v1/me`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::ids::{SessionId, UserId};
use tessera_core::time::Timestamp;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::ApiError;
use crate::http::extract::Authenticated;

/// The body of `GET /v1/me` (API.md): serialised straight from borrowed fields, since this
/// is the hottest authenticated endpoint and an intermediate `serde_json::Value` costs a map
/// and a copy of every string per request.
#[derive(Serialize)]
struct Me<'a> {
    id: UserId,
    email: &'a str,
    name: Option<&'a str>,
    session_id: SessionId,
    token_version: u64,
    mfa_enabled: bool,
    amr: &'a [String],
}

/// The caller's account and session.
pub async fn me(State(app): State<AppState>, auth: Authenticated) -> Result<Response, ApiError> {
    let user = auth.claims.sub;
    let profile = app
        .access
        .profile(user, Timestamp::now())
        .await?
        .ok_or(AuthError::TokenRevoked)?;
    Ok(Json(Me {
        id: user,
        email: &profile.email,
        name: profile.name.as_deref(),
        session_id: auth.claims.sid,
        token_version: auth.claims.ver,
        mfa_enabled: profile.mfa_enabled,
        amr: &auth.claims.amr,
    })
    .into_response())
}
