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
use crate::http::openapi::Problem;

/// The body of `GET /v1/me` (API.md): serialised straight from borrowed fields, since this
/// is the hottest authenticated endpoint and an intermediate `serde_json::Value` costs a map
/// and a copy of every string per request.
/// `GET /v1/me`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Me<'a> {
    #[schema(value_type = uuid::Uuid)]
    id: UserId,
    #[schema(value_type = String)]
    email: &'a str,
    #[schema(value_type = Option<String>)]
    name: Option<&'a str>,
    #[schema(value_type = uuid::Uuid)]
    session_id: SessionId,
    token_version: u64,
    mfa_enabled: bool,
    /// How the session was signed in (RFC 8176: `pwd`, `otp`, `hwk`, `mfa`, …).
    #[schema(value_type = Vec<String>)]
    amr: &'a [String],
}

/// The caller's account and session.
#[utoipa::path(
    get, path = "/v1/me", tag = "account",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "The caller's account and session", body = Me),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
