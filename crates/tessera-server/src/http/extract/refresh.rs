//! The refresh token a request presents.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_core::refresh::RefreshToken;

use super::ApiJson;
use super::bearer::csrf_failed;
use crate::app::AppState;
use crate::http::ApiError;
use crate::http::cookies::{self, SentCookies};

/// The body `{"refresh_token": …}`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RefreshRequest {
    /// The newest refresh token of the session.
    #[schema(format = Password)]
    refresh_token: String,
}

/// The refresh token of a request, from the JSON body `{"refresh_token": …}` or — with
/// cookie transport on and an empty (or all-whitespace) body — from the
/// `__Secure-tessera_rt` cookie. With the cookie, `X-CSRF-Token` must equal the
/// `__Host-tessera_csrf` cookie, and that value must be the CSRF token of the refresh
/// token's session (by its routing ids only: the store decides whether the token is
/// genuine); else 403 `csrf_failed`.
///
/// Rejections: the body's own (see [`ApiJson`]: 400, 413, 415, 422); an empty body without
/// the cookie is 422 `invalid_request` (`missing field refresh_token`); 403 `csrf_failed`.
/// Whether the token is genuine is for the service to decide.
#[derive(Clone, Debug)]
pub struct PresentedRefresh {
    /// The token as presented.
    pub token: String,
    /// Whether it came from the cookie.
    pub via_cookie: bool,
}

impl FromRequest<AppState> for PresentedRefresh {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !body.iter().all(u8::is_ascii_whitespace) {
            let ApiJson(req) = ApiJson::<RefreshRequest>::from_bytes(&headers, &body)
                .map_err(IntoResponse::into_response)?;
            return Ok(Self {
                token: req.refresh_token,
                via_cookie: false,
            });
        }
        let sent = SentCookies::from_headers(&headers);
        let from_cookie = state
            .settings
            .token_transport
            .cookies()
            .then(|| sent.get(cookies::REFRESH))
            .flatten()
            .map(str::to_owned);
        let Some(token) = from_cookie else {
            return Err(ApiError::request(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_request",
                "the request body does not have the expected fields: missing field `refresh_token`",
            )
            .into_response());
        };
        // The echoed CSRF cookie must be the token of the refresh token's session.
        let echoed =
            cookies::csrf_echoed(&sent, &headers).ok_or_else(|| csrf_failed().into_response())?;
        // Routing ids only: the store decides whether the token is genuine.
        if let Ok((_, session)) = RefreshToken::route(&token)
            && !state.access.csrf_matches(session, &echoed)
        {
            return Err(csrf_failed().into_response());
        }
        Ok(Self {
            token,
            via_cookie: true,
        })
    }
}
