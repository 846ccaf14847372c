//! `/v1/password/*`: reset by mail and change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use crate::app::AppState;
use crate::http::ApiError;
use crate::http::extract::{ApiJson, Authenticated, Client};

/// `POST /v1/password/forgot` body.
#[derive(Deserialize)]
pub struct ForgotRequest {
    email: String,
}

/// `POST /v1/password/forgot` → 202, always with the same body: whether the email has an
/// account, is banned or is not an address at all is never revealed (the lookup and the mail
/// run after the answer). 429 when the address or the account has asked too often.
pub async fn forgot(
    State(app): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<ForgotRequest>,
) -> Result<Response, ApiError> {
    let info = client.info();
    app.passwords
        .request_reset(req.email, info, Timestamp::now())
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "status": "accepted",
            "detail": "if an account with this email exists, a reset link has been sent to it",
        })),
    )
        .into_response())
}

/// `POST /v1/password/reset` body.
#[derive(Deserialize)]
pub struct ResetRequest {
    token: String,
    new_password: String,
}

/// `POST /v1/password/reset` → 204; 400 `invalid_reset_token`, 422 `weak_password` (the token
/// stays usable).
pub async fn reset(
    State(app): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<ResetRequest>,
) -> Result<Response, ApiError> {
    let info = client.info();
    app.passwords
        .reset(
            &req.token,
            Zeroizing::new(req.new_password),
            &info,
            Timestamp::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/password/change` body.
#[derive(Deserialize)]
pub struct ChangeRequest {
    current_password: String,
    new_password: String,
}

/// `POST /v1/password/change` (bearer) → 204, the caller's other sessions revoked; 401
/// `invalid_credentials` for a wrong current password, 422 `weak_password`.
pub async fn change(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    ApiJson(req): ApiJson<ChangeRequest>,
) -> Result<Response, ApiError> {
    // Wrong current passwords count like failed sign-ins (the service checks it under the
    // sign-in budgets): a stolen access token must not become a password oracle.
    let info = client.info();
    app.passwords
        .change(
            &auth.claims,
            Zeroizing::new(req.current_password),
            Zeroizing::new(req.new_password),
            &info,
            Timestamp::now(),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
