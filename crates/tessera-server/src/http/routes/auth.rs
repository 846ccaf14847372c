//! `/v1/auth/*`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use crate::app::AppState;
use crate::auth::ClientInfo;
use crate::http::ApiError;
use crate::http::extract::{ApiJson, Authenticated, Client};

/// `POST /v1/auth/register` body.
#[derive(Deserialize)]
pub struct RegisterRequest {
    email: String,
    password: String,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /v1/auth/register` → 201 `{user:{id,email,created_at}}`.
pub async fn register(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    let user = app
        .auth
        .register(
            &req.email,
            Zeroizing::new(req.password),
            req.name.as_deref(),
            Timestamp::now(),
        )
        .await?;
    let body = json!({"user": {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "created_at": rfc3339(user.created_at),
    }});
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /v1/auth/login` body.
#[derive(Deserialize)]
pub struct LoginRequest {
    email: String,
    password: String,
    #[serde(default)]
    device_name: Option<String>,
}

/// `POST /v1/auth/login` → 200 `TokenPair`.
pub async fn login(
    State(app): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let info = ClientInfo::new(
        client.user_agent.as_deref(),
        client.ip,
        req.device_name.as_deref(),
    );
    let pair = app
        .auth
        .login(
            &req.email,
            Zeroizing::new(req.password),
            info,
            Timestamp::now(),
        )
        .await?;
    Ok(no_store(Json(pair)))
}

/// `POST /v1/auth/refresh` body.
#[derive(Deserialize)]
pub struct RefreshRequest {
    refresh_token: String,
}

/// `POST /v1/auth/refresh` → 200 `TokenPair` with a new refresh token.
pub async fn refresh(
    State(app): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    let pair = app
        .auth
        .refresh(&req.refresh_token, Timestamp::now())
        .await?;
    Ok(no_store(Json(pair)))
}

/// `POST /v1/auth/logout` → 204.
pub async fn logout(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    app.auth.logout(&auth.claims, Timestamp::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/auth/logout-all` → 204.
pub async fn logout_all(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<StatusCode, ApiError> {
    app.auth.logout_all(&auth.claims, Timestamp::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store(body: impl IntoResponse) -> Response {
    let mut res = body.into_response();
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    res
}

/// RFC 3339 UTC rendering of a timestamp.
pub fn rfc3339(t: Timestamp) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.as_secs().max(0) as u64),
    )
    .to_string()
}
