//! `/v1/oauth/*` (federated sign-in) and `/v1/identities` (linked provider accounts).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::{Deserialize, Serialize};
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use super::auth::sign_in_response;
use crate::app::AppState;
use crate::auth::federated::{BROWSER_COOKIE, CallbackParams};
use crate::device::ClientInfo;
use crate::http::ApiError;
use crate::http::cookies::SentCookies;
use crate::http::extract::{ApiJson, Authenticated, Client};
use crate::http::openapi::Problem;
use crate::http::openapi::schemas::SignInAnswer;

/// `GET /v1/oauth/providers` → 200.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Providers {
    /// The configured identity providers.
    pub providers: Vec<ProviderInfo>,
}

/// One identity provider.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProviderInfo {
    /// Its name in the paths (`a-z`, `0-9`, `_`).
    pub name: String,
    /// For a sign-in button.
    pub display_name: String,
}

/// `POST /v1/oauth/{provider}/link` → 200.
#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkStarted {
    /// Send this browser there (it carries the browser-binding cookie just set).
    pub authorize_url: String,
}

/// `GET /v1/identities`, `GET /v1/admin/users/{id}/identities` → 200.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Identities {
    /// The linked provider accounts.
    pub identities: Vec<IdentityInfo>,
}

/// A linked provider account.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IdentityInfo {
    /// The provider's name.
    pub provider: String,
    /// The account's subject at the provider.
    pub subject: String,
    /// The email it asserted.
    pub email: Option<String>,
    /// Whether the provider asserted that email verified.
    pub email_verified: bool,
    /// RFC 3339.
    pub linked_at: String,
}

const PROVIDER: &str = "A configured provider's name";
use crate::mfa::trusted;

/// `GET /v1/oauth/providers`.
#[utoipa::path(
    get, path = "/v1/oauth/providers", tag = "federation",
    responses(
        (status = 200, description = "The configured providers", body = Providers),
    ),
)]
pub async fn providers(State(app): State<AppState>) -> Json<Providers> {
    let providers = app
        .federated
        .providers()
        .into_iter()
        .map(|(name, display_name)| ProviderInfo {
            name: name.to_owned(),
            display_name: display_name.to_owned(),
        })
        .collect();
    Json(Providers { providers })
}

/// The first value of each query parameter of `query` among `names` (others ignored).
fn params<const N: usize>(query: Option<&str>, names: [&str; N]) -> [Option<String>; N] {
    let mut out: [Option<String>; N] = std::array::from_fn(|_| None);
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if let Some(i) = names.iter().position(|n| *n == k)
            && out[i].is_none()
        {
            out[i] = Some(v.into_owned());
        }
    }
    out
}

/// A redirect that no cache keeps and that sends no referrer onwards.
fn redirect(location: &str, jar: CookieJar) -> Result<Response, ApiError> {
    let location = HeaderValue::from_str(location).map_err(|_| {
        ApiError::request(
            StatusCode::BAD_GATEWAY,
            "provider_unavailable",
            "unusable redirect URL",
        )
    })?;
    let mut res = (jar, StatusCode::FOUND).into_response();
    let h = res.headers_mut();
    h.insert(header::LOCATION, location);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}

/// `GET /v1/oauth/{provider}/authorize?return_to=[&link=]` → 302 to the provider, with the
/// browser-binding cookie set.
#[utoipa::path(
    get, path = "/v1/oauth/{provider}/authorize", tag = "federation",
    params(
        ("provider" = String, Path, description = PROVIDER),
        ("return_to" = String, Query, description = "Where the browser goes afterwards: one of `oauth.return_urls`"),
        ("link" = Option<String>, Query, description = "A link ticket from `POST /v1/oauth/{provider}/link`"),
    ),
    responses(
        (status = 302, description = "To the provider, with `state`, PKCE (S256) and, for OpenID Connect, `nonce`; sets the browser-binding cookie `__Host-tessera_oauth`"),
        (status = 400, description = "`invalid_return_url`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_provider`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`provider_unavailable`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn authorize(
    State(app): State<AppState>,
    client: Client,
    sent: SentCookies,
    jar: CookieJar,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let [return_to, link] = params(query.as_deref(), ["return_to", "link"]);
    let browser = sent.get(BROWSER_COOKIE).map(str::to_owned);
    let started = app
        .federated
        .authorize(
            &provider,
            return_to.as_deref(),
            link.as_deref(),
            browser.as_deref(),
            client.ip,
            Timestamp::now(),
        )
        .await?;
    let cookie = browser_cookie(&app, started.browser);
    redirect(&started.location, jar.add(cookie))
}

/// The browser-binding cookie: `__Host-`, `Secure`, `HttpOnly`, `SameSite=Lax` (it must come
/// back on the provider's top-level redirect), for as long as a state or a link ticket
/// lives.
fn browser_cookie(app: &AppState, value: String) -> Cookie<'static> {
    Cookie::build((BROWSER_COOKIE, value))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time::Duration::seconds(
            i64::try_from(
                app.settings
                    .oauth
                    .state_ttl
                    .max(crate::auth::federated::records::LINK_TTL)
                    .as_secs(),
            )
            .unwrap_or(600),
        ))
        .build()
}

/// `GET /v1/oauth/{provider}/callback?code&state` → 302 to the return URL with `?code=`
/// (or `?linked=` after a link).
#[utoipa::path(
    get, path = "/v1/oauth/{provider}/callback", tag = "federation",
    params(
        ("provider" = String, Path, description = PROVIDER),
        ("code" = Option<String>, Query, description = "The provider's authorization code"),
        ("state" = Option<String>, Query, description = "The state of the authorize step"),
        ("error" = Option<String>, Query, description = "The provider's error, if it refused"),
    ),
    responses(
        (status = 302, description = "To the return URL with `?code=<one-time code>` (60 s, single use; `?linked=` after a link); tokens never appear in a URL"),
        (status = 400, description = "`invalid_state` (unknown, expired, used, another browser or provider), `oauth_denied`, `email_unverified`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_id_token`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_provider`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`account_exists`, `identity_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`provider_unavailable`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn callback(
    State(app): State<AppState>,
    client: Client,
    sent: SentCookies,
    jar: CookieJar,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let [code, state, error] = params(query.as_deref(), ["code", "state", "error"]);
    let browser = sent.get(BROWSER_COOKIE).map(str::to_owned);
    let info = ClientInfo::new(client.user_agent.as_deref(), client.ip, None);
    let location = app
        .federated
        .callback(
            &provider,
            CallbackParams { code, state, error },
            browser.as_deref(),
            info,
            Timestamp::now(),
        )
        .await?;
    redirect(&location, jar)
}

/// `POST /v1/oauth/exchange` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ExchangeRequest {
    /// The one-time code the return URL received.
    #[schema(format = Password)]
    code: String,
}

/// `POST /v1/oauth/exchange` → 200 `TokenPair` (cookies per transport), or the MFA
/// challenge body of `/v1/auth/login`.
#[utoipa::path(
    post, path = "/v1/oauth/exchange", tag = "federation",
    request_body = ExchangeRequest,
    responses(
        (status = 200, description = "Signed in (a `TokenPair`, cookies per the transport), or a second factor is due", body = SignInAnswer),
        (status = 400, description = "`invalid_code` (unknown, expired, used, another browser)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn exchange(
    State(app): State<AppState>,
    client: Client,
    sent: SentCookies,
    jar: CookieJar,
    ApiJson(req): ApiJson<ExchangeRequest>,
) -> Result<Response, ApiError> {
    let browser = sent.get(BROWSER_COOKIE).map(str::to_owned);
    let trust_cookie = sent.get(trusted::COOKIE).map(str::to_owned);
    let fingerprint = app.sign_in.fingerprinting().for_sign_in();
    let outcome = app
        .federated
        .exchange(
            &req.code,
            browser.as_deref(),
            fingerprint.as_ref(),
            trust_cookie.as_deref(),
            client.ip,
            Timestamp::now(),
        )
        .await?;
    Ok(sign_in_response(&app, jar, outcome, fingerprint.as_ref()))
}

/// `POST /v1/oauth/{provider}/link` body.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LinkRequest {
    #[schema(format = Password)]
    password: String,
    #[serde(default)]
    return_to: Option<String>,
}

/// `POST /v1/oauth/{provider}/link` → 200 `{authorize_url}`, and the browser-binding cookie
/// (only this browser can follow the URL).
#[utoipa::path(
    post, path = "/v1/oauth/{provider}/link", tag = "federation",
    request_body = LinkRequest,
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    params(("provider" = String, Path, description = PROVIDER)),
    responses(
        (status = 200, description = "Where to send this browser to link an account of the provider", body = LinkStarted),
        (status = 400, description = "`invalid_return_url`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials` (the current password), or a token problem", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`unknown_provider`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn link(
    State(app): State<AppState>,
    client: Client,
    sent: SentCookies,
    jar: CookieJar,
    auth: Authenticated,
    Path(provider): Path<String>,
    ApiJson(req): ApiJson<LinkRequest>,
) -> Result<Response, ApiError> {
    let browser = sent.get(BROWSER_COOKIE).map(str::to_owned);
    let started = app
        .federated
        .link(
            auth.claims.sub,
            &provider,
            Zeroizing::new(req.password),
            req.return_to.as_deref(),
            browser.as_deref(),
            &client.info(),
            Timestamp::now(),
        )
        .await?;
    let jar = jar.add(browser_cookie(&app, started.browser));
    let body = LinkStarted {
        authorize_url: started.location,
    };
    let mut res = (jar, Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `GET /v1/identities`.
#[utoipa::path(
    get, path = "/v1/identities", tag = "federation",
    security(("bearer" = []), ("access_cookie" = [])),
    responses(
        (status = 200, description = "The caller's linked provider accounts", body = Identities),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn identities(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Identities>, ApiError> {
    Ok(Json(identities_body(&app, auth.claims.sub).await?))
}

/// `{identities:[{provider, subject, email, linked_at}]}` of `user`.
pub async fn identities_body(
    app: &AppState,
    user: tessera_core::ids::UserId,
) -> Result<Identities, ApiError> {
    let identities = app
        .federated
        .identities(user)
        .await?
        .into_iter()
        .map(|i| IdentityInfo {
            provider: i.provider,
            subject: i.subject,
            email: i.email,
            email_verified: i.email_verified,
            linked_at: crate::rfc3339::format(i.linked_at),
        })
        .collect();
    Ok(Identities { identities })
}

/// `DELETE /v1/identities/{provider}` → 204.
#[utoipa::path(
    delete, path = "/v1/identities/{provider}", tag = "federation",
    security(("bearer" = []), ("access_cookie" = [], "csrf" = [])),
    params(("provider" = String, Path, description = PROVIDER)),
    responses(
        (status = 204, description = "The identity is unlinked"),
        (status = 401, description = "`missing_token`, `invalid_token`, `token_expired`, `token_revoked`, `fingerprint_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`identity_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_sign_in_method`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn unlink(
    State(app): State<AppState>,
    client: Client,
    auth: Authenticated,
    Path(provider): Path<String>,
) -> Result<StatusCode, ApiError> {
    app.federated
        .unlink(auth.claims.sub, &provider, &client.info(), Timestamp::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
