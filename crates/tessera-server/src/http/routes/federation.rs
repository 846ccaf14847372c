//! `/v1/oauth/*` (federated sign-in) and `/v1/identities` (linked provider accounts).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use super::auth::sign_in_response;
use crate::app::AppState;
use crate::auth::federated::{BROWSER_COOKIE, CallbackParams};
use crate::device::ClientInfo;
use crate::http::ApiError;
use crate::http::extract::{ApiJson, Authenticated, Client};
use crate::mfa::trusted;

/// `GET /v1/oauth/providers`.
pub async fn providers(State(app): State<AppState>) -> Json<Value> {
    let providers: Vec<Value> = app
        .federated
        .providers()
        .into_iter()
        .map(|(name, display_name)| json!({"name": name, "display_name": display_name}))
        .collect();
    Json(json!({ "providers": providers }))
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
pub async fn authorize(
    State(app): State<AppState>,
    client: Client,
    jar: CookieJar,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let [return_to, link] = params(query.as_deref(), ["return_to", "link"]);
    let browser = jar.get(BROWSER_COOKIE).map(|c| c.value().to_owned());
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
pub async fn callback(
    State(app): State<AppState>,
    client: Client,
    jar: CookieJar,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let [code, state, error] = params(query.as_deref(), ["code", "state", "error"]);
    let browser = jar.get(BROWSER_COOKIE).map(|c| c.value().to_owned());
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
#[derive(Deserialize)]
pub struct ExchangeRequest {
    code: String,
}

/// `POST /v1/oauth/exchange` → 200 `TokenPair` (cookies per transport), or the MFA
/// challenge body of `/v1/auth/login`.
pub async fn exchange(
    State(app): State<AppState>,
    client: Client,
    jar: CookieJar,
    ApiJson(req): ApiJson<ExchangeRequest>,
) -> Result<Response, ApiError> {
    let browser = jar.get(BROWSER_COOKIE).map(|c| c.value().to_owned());
    let trust_cookie = jar.get(trusted::COOKIE).map(|c| c.value().to_owned());
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
#[derive(Deserialize)]
pub struct LinkRequest {
    password: String,
    #[serde(default)]
    return_to: Option<String>,
}

/// `POST /v1/oauth/{provider}/link` → 200 `{authorize_url}`, and the browser-binding cookie
/// (only this browser can follow the URL).
pub async fn link(
    State(app): State<AppState>,
    client: Client,
    jar: CookieJar,
    auth: Authenticated,
    Path(provider): Path<String>,
    ApiJson(req): ApiJson<LinkRequest>,
) -> Result<Response, ApiError> {
    let browser = jar.get(BROWSER_COOKIE).map(|c| c.value().to_owned());
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
    let mut res = (jar, Json(json!({ "authorize_url": started.location }))).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `GET /v1/identities`.
pub async fn identities(
    State(app): State<AppState>,
    auth: Authenticated,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(identities_body(&app, auth.claims.sub).await?))
}

/// `{identities:[{provider, subject, email, linked_at}]}` of `user`.
pub async fn identities_body(
    app: &AppState,
    user: tessera_core::ids::UserId,
) -> Result<Value, ApiError> {
    let list: Vec<Value> = app
        .federated
        .identities(user)
        .await?
        .into_iter()
        .map(|i| {
            json!({
                "provider": i.provider,
                "subject": i.subject,
                "email": i.email,
                "email_verified": i.email_verified,
                "linked_at": crate::rfc3339::format(i.linked_at),
            })
        })
        .collect();
    Ok(json!({ "identities": list }))
}

/// `DELETE /v1/identities/{provider}` → 204.
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
