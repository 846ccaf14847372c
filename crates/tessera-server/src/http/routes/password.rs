//! `/v1/password/*`: reset by mail and change.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use crate::app::AppState;
use crate::http::ApiError;
use crate::http::extract::{ApiJson, Authenticated, Client};
use crate::http::openapi::Problem;

/// `POST /v1/password/forgot` → 202: the same for every email.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ResetRequested {
    /// Always `accepted`.
    #[schema(value_type = String, example = "accepted")]
    status: &'static str,
    /// For humans.
    #[schema(value_type = String)]
    detail: &'static str,
}

/// `POST /v1/password/forgot` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ForgotRequest {
    #[schema(format = Email)]
    email: String,
}

/// `POST /v1/password/forgot` → 202, always with the same body: whether the email has an
/// account, is banned or is not an address at all is never revealed (the lookup and the mail
/// run after the answer). 429 when the address or the account has asked too often.
#[utoipa::path(
    post, path = "/v1/password/forgot", tag = "password",
    request_body = ForgotRequest,
    responses(
        (status = 202, description = "Always, whether or not the email has an account; the mail holds the reset link", body = ResetRequested),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
        Json(ResetRequested {
            status: "accepted",
            detail: "if an account with this email exists, a reset link has been sent to it",
        }),
    )
        .into_response())
}

/// `POST /v1/password/reset` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ResetRequest {
    /// The token from the mailed link.
    #[schema(format = Password)]
    token: String,
    #[schema(format = Password)]
    new_password: String,
}

/// `POST /v1/password/reset` → 204; 400 `invalid_reset_token`, 422 `weak_password` (the token
/// stays usable).
#[utoipa::path(
    post, path = "/v1/password/reset", tag = "password",
    request_body = ResetRequest,
    responses(
        (status = 204, description = "The password is set and every session revoked"),
        (status = 400, description = "`invalid_reset_token`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password` (the token stays usable), `invalid_request`", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ChangeRequest {
    #[schema(format = Password)]
    current_password: String,
    #[schema(format = Password)]
    new_password: String,
}

/// `POST /v1/password/change` (bearer) → 204, the caller's other sessions revoked; 401
/// `invalid_credentials` for a wrong current password, 422 `weak_password`.
#[utoipa::path(
    post, path = "/v1/password/change", tag = "password",
    request_body = ChangeRequest,
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "The password is changed and the caller's other sessions revoked"),
        (status = 401, description = "`invalid_credentials` (the current password), or a token problem", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`weak_password`, `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
