//! `/v1/auth/*`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tessera_core::ids::UserId;
use tessera_core::refresh::RefreshToken;
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use crate::app::{App, AppState};
use crate::auth::sign_in::SignIn;
use crate::auth::{Fingerprint, TokenPair};
use crate::device::ClientInfo;
use crate::http::ApiError;
use crate::http::cookies::{self, SentCookies};
use crate::http::extract::refresh::RefreshRequest;
use crate::http::extract::{ApiJson, Authenticated, Client, PresentedRefresh};
use crate::http::openapi::Problem;
use crate::http::openapi::schemas::SignInAnswer;
use crate::mfa::trusted;

/// `POST /v1/auth/register` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct RegisterRequest {
    #[schema(format = Email)]
    email: String,
    #[schema(format = Password)]
    password: String,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /v1/auth/register` → 201.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Registered {
    user: RegisteredUser,
}

/// The new account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RegisteredUser {
    #[schema(value_type = uuid::Uuid)]
    id: UserId,
    email: String,
    name: Option<String>,
    /// RFC 3339.
    created_at: String,
}

/// `POST /v1/auth/register` → 201 `{user:{id,email,created_at}}`.
#[utoipa::path(
    post, path = "/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The account is created", body = Registered),
        (status = 409, description = "`email_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_email`, `weak_password`, `invalid_request`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn register(
    State(app): State<AppState>,
    client: Client,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    let user = app
        .sign_in
        .register(
            &req.email,
            Zeroizing::new(req.password),
            req.name.as_deref(),
            client.ip,
            Timestamp::now(),
        )
        .await?;
    let body = Registered {
        user: RegisteredUser {
            id: user.id,
            email: user.email,
            name: user.name,
            created_at: crate::rfc3339::format(user.created_at),
        },
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /v1/auth/login` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    #[schema(format = Email)]
    email: String,
    #[schema(format = Password)]
    password: String,
    #[serde(default)]
    device_name: Option<String>,
    #[serde(default)]
    trust_device: bool,
}

/// `POST /v1/auth/login` → 200 `TokenPair` (and cookies, per the token transport), or 200
/// `{mfa_required, challenge_id, methods, expires_in}` when a second factor is due.
#[utoipa::path(
    post, path = "/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in (a `TokenPair`, and cookies with the cookie transport), or a second factor is due (`mfa_required`)", body = SignInAnswer),
        (status = 401, description = "`invalid_credentials` (an unknown email and a wrong password alike)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn login(
    State(app): State<AppState>,
    client: Client,
    sent: SentCookies,
    jar: CookieJar,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let info = ClientInfo::new(
        client.user_agent.as_deref(),
        client.ip,
        req.device_name.as_deref(),
    );
    let fingerprint = app.sign_in.fingerprinting().for_sign_in();
    let trust_cookie = sent.get(trusted::COOKIE).map(str::to_owned);
    let outcome = app
        .sign_in
        .login(
            &req.email,
            Zeroizing::new(req.password),
            info,
            fingerprint.as_ref(),
            trust_cookie.as_deref(),
            req.trust_device,
            Timestamp::now(),
        )
        .await?;
    Ok(sign_in_response(&app, jar, outcome, fingerprint.as_ref()))
}

/// The answer to a first factor (a password, a federated sign-in's code): the token pair
/// (per the transport), or the second-factor challenge, never cached.
pub(crate) fn sign_in_response(
    app: &App,
    jar: CookieJar,
    outcome: SignIn,
    fingerprint: Option<&Fingerprint>,
) -> Response {
    match outcome {
        SignIn::Tokens(pair) => token_response(app, jar, pair, fingerprint),
        SignIn::Mfa(challenge) => {
            let mut res = Json(challenge).into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
    }
}

/// `POST /v1/auth/refresh` (body `{refresh_token}`, or with cookie transport an empty body,
/// the cookie and the CSRF header: [`PresentedRefresh`]) → 200 `TokenPair` with a new
/// refresh token.
#[utoipa::path(
    post, path = "/v1/auth/refresh", tag = "auth",
    request_body(content = RefreshRequest, description = "The refresh token; with the cookie transport, an empty body, the refresh cookie and `X-CSRF-Token`"),
    responses(
        (status = 200, description = "A new pair: the refresh token is replaced every time", body = TokenPair),
        (status = 401, description = "`invalid_refresh_token`, `refresh_token_reused` (the session is now revoked)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`, `csrf_failed`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn refresh(
    State(app): State<AppState>,
    client: Client,
    sent: SentCookies,
    jar: CookieJar,
    presented: PresentedRefresh,
) -> Result<Response, ApiError> {
    let info = || client.info();
    let fingerprint = cookies::fingerprint_of(&sent);
    let pair = app
        .sign_in
        .refresh(
            &presented.token,
            fingerprint.as_ref(),
            info,
            Timestamp::now(),
        )
        .await?;
    Ok(token_response(&app, jar, pair, None))
}

/// `POST /v1/auth/logout` → 204; clears the token cookies.
///
/// In cookie transport a browser whose access token no longer authenticates (it expired:
/// its cookie lives only as long as the token; or it was refused after a state-store loss)
/// still signs out: with the refresh cookie (which `Path=/v1/auth` sends here) and the CSRF
/// header matching its session, the session is revoked by that token. A refusal in cookie
/// transport that echoes the CSRF cookie clears the token cookies all the same, so "Log
/// out" never leaves a refresh cookie behind for the next person at that browser; one
/// without the header (a cross-site form) changes nothing.
#[utoipa::path(
    post, path = "/v1/auth/logout", tag = "auth",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "This session and all its tokens are revoked"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`csrf_failed`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn logout(
    State(app): State<AppState>,
    client: Client,
    sent: SentCookies,
    jar: CookieJar,
    headers: HeaderMap,
    auth: Result<Authenticated, ApiError>,
) -> Result<Response, Response> {
    let info = client.info();
    let now = Timestamp::now();
    let refused = match auth {
        Ok(auth) => {
            app.sign_in
                .logout(&auth.claims, &info, now)
                .await
                .map_err(|e| ApiError::from(e).into_response())?;
            return Ok(signed_out(&app, jar));
        }
        Err(refused) => refused.into_response(),
    };
    if !app.settings.token_transport.cookies() || refused.status() != StatusCode::UNAUTHORIZED {
        return Err(refused);
    }
    // The refresh cookie, with the CSRF header of its session (by its routing ids: the
    // store decides whether the token is genuine).
    // A refusal changes nothing unless the request echoes the CSRF cookie: only a script
    // of our own origin can send that header, and a cross-site form posting here must not
    // sign the browser out.
    let Some(echoed) = cookies::csrf_echoed(&sent, &headers) else {
        return Err(refused);
    };
    let by_refresh = sent.get(cookies::REFRESH).filter(|token| {
        RefreshToken::route(token)
            .is_ok_and(|(_, session)| app.access.csrf_matches(session, &echoed))
    });
    if let Some(token) = by_refresh {
        let revoked = app
            .sign_in
            .logout_by_refresh(token, &info, now)
            .await
            .map_err(|e| ApiError::from(e).into_response())?;
        if revoked {
            return Ok(signed_out(&app, jar));
        }
    }
    Err((cookies::clear_tokens(jar), refused).into_response())
}

/// `POST /v1/auth/logout-all` → 204; clears the token cookies.
#[utoipa::path(
    post, path = "/v1/auth/logout-all", tag = "auth",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    responses(
        (status = 204, description = "Every session of the user is revoked and the token version raised"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn logout_all(
    State(app): State<AppState>,
    client: Client,
    jar: CookieJar,
    auth: Authenticated,
) -> Result<Response, ApiError> {
    let info = client.info();
    app.sign_in
        .logout_all(&auth.claims, &info, Timestamp::now())
        .await?;
    Ok(signed_out(&app, jar))
}

fn signed_out(app: &App, jar: CookieJar) -> Response {
    if app.settings.token_transport.cookies() || app.sign_in.fingerprinting().is_on() {
        (StatusCode::NO_CONTENT, cookies::clear_tokens(jar)).into_response()
    } else {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// A token pair as the configured transport wants it: JSON body, cookies, or both; plus the
/// fingerprint cookie on sign-in. Never cached (RFC 6749 §5.1).
pub(crate) fn token_response(
    app: &App,
    jar: CookieJar,
    pair: TokenPair,
    fingerprint: Option<&Fingerprint>,
) -> Response {
    let transport = app.settings.token_transport;
    let mut jar = jar;
    if transport.cookies() {
        jar = cookies::set_tokens(jar, &pair, app.access.csrf_token(pair.session_id));
    }
    if let Some(fp) = fingerprint {
        jar = cookies::set_fingerprint(
            jar,
            fp,
            pair.refresh_expires_in
                .max(app.settings.refresh_token_ttl.as_secs()),
        );
    }
    let body: Value = if transport.body() {
        serde_json::to_value(&pair).unwrap_or(Value::Null)
    } else {
        json!({
            "token_type": pair.token_type,
            "expires_in": pair.expires_in,
            "refresh_expires_in": pair.refresh_expires_in,
            "session_id": pair.session_id,
        })
    };
    let mut res = (jar, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
