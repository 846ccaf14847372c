//! `GET /v1/me`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use tessera_core::time::Timestamp;

use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::ApiError;
use crate::http::extract::Authenticated;

/// The caller's account and session.
pub async fn me(State(app): State<AppState>, auth: Authenticated) -> Result<Json<Value>, ApiError> {
    let user = auth.claims.sub;
    let profile = app
        .auth
        .profile(user, Timestamp::now())
        .await?
        .ok_or(AuthError::TokenRevoked)?;
    Ok(Json(json!({
        "id": user,
        "email": profile.email,
        "name": profile.name,
        "session_id": auth.claims.sid,
        "token_version": auth.claims.ver,
        "mfa_enabled": profile.mfa_enabled,
        "amr": auth.claims.amr,
    })))
}
