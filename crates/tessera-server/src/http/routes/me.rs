//! `GET /v1/me`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::AuthError;
use crate::http::ApiError;
use crate::http::extract::Authenticated;

/// The caller's account and session.
pub async fn me(State(app): State<AppState>, auth: Authenticated) -> Result<Json<Value>, ApiError> {
    let user = app
        .auth
        .users()
        .by_id(auth.claims.sub)
        .await
        .map_err(AuthError::from)?
        .ok_or(AuthError::TokenRevoked)?;
    let mfa_enabled = app.auth.mfa_enabled(user.id).await?;
    Ok(Json(json!({
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "session_id": auth.claims.sid,
        "token_version": auth.claims.ver,
        "mfa_enabled": mfa_enabled,
        "amr": auth.claims.amr,
    })))
}
