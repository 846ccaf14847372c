//! `POST /oauth2/introspect` (RFC 7662) and `POST /oauth2/revoke` (RFC 7009). Both take a
//! form body and an authenticated client ([`ClientForm`]).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;

use crate::app::AppState;
use crate::auth::access::introspect::Introspection;
use crate::auth::sessions::oauth_revoke::TokenTypeHint;
use crate::http::ApiError;
use crate::http::extract::client_auth::{ClientForm, FormParams};
use crate::http::openapi::Problem;

/// The form of RFC 7662 and RFC 7009 (`application/x-www-form-urlencoded`). The client
/// authenticates with HTTP Basic; `client_id` and `client_secret` in the form
/// (`client_secret_post`) are accepted instead.
#[allow(dead_code)] // Described; [`ClientForm`] reads the form.
#[derive(utoipa::ToSchema)]
pub struct TokenForm {
    /// The token: an access token, or for revocation also a refresh token.
    #[schema(format = Password)]
    token: String,
    /// `access_token` or `refresh_token`: where to look first.
    token_type_hint: Option<String>,
}

/// RFC 7662 §2.2: `{"active": false}` alone, or the claims of a live access token.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IntrospectionResponse {
    /// Whether the token would be accepted now.
    active: bool,
    /// The claims, when active.
    #[serde(flatten)]
    claims: Option<ActiveClaims>,
}

/// The claims of an active token (RFC 7662 §2.2): all present when `active` is true, none
/// when it is false (so none is `required` in the schema).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ActiveClaims {
    /// Always `Bearer`.
    #[schema(value_type = String)]
    #[schema(required = false)]
    token_type: &'static str,
    #[schema(required = false)]
    iss: String,
    #[schema(required = false)]
    aud: String,
    #[schema(value_type = uuid::Uuid)]
    #[schema(required = false)]
    sub: UserId,
    #[schema(required = false)]
    client_id: String,
    #[schema(required = false)]
    exp: i64,
    #[schema(required = false)]
    iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    nbf: Option<i64>,
    #[schema(value_type = uuid::Uuid)]
    #[schema(required = false)]
    jti: Jti,
    #[schema(value_type = uuid::Uuid)]
    #[schema(required = false)]
    sid: SessionId,
    #[schema(required = false)]
    amr: Vec<String>,
}

/// RFC 7662 token introspection → 200 with the claims of a live access token and
/// `"active": true`, or exactly `{"active":false}` for anything that would be refused.
#[utoipa::path(
    post, path = "/oauth2/introspect", tag = "standards",
    security(("client" = [])),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "RFC 7662: the token's state (never cached)", body = IntrospectionResponse),
        (status = 400, description = "`invalid_request` (no `token`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_client`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn introspect(
    State(app): State<AppState>,
    form: ClientForm,
) -> Result<Response, ApiError> {
    let token = required_token(&form.params)?;
    let body = match app.access.introspect(token, Timestamp::now()).await? {
        Introspection::Active(c) => {
            let c = *c;
            IntrospectionResponse {
                active: true,
                claims: Some(ActiveClaims {
                    token_type: "Bearer",
                    iss: c.iss,
                    aud: c.aud,
                    sub: c.sub,
                    client_id: c.client_id,
                    exp: c.exp,
                    iat: c.iat,
                    nbf: c.nbf,
                    jti: c.jti,
                    sid: c.sid,
                    amr: c.amr,
                }),
            }
        }
        Introspection::Inactive => IntrospectionResponse {
            active: false,
            claims: None,
        },
    };
    Ok(no_store(Json(body)))
}

/// RFC 7009 token revocation → 200 with an empty body, whether or not the token was known.
#[utoipa::path(
    post, path = "/oauth2/revoke", operation_id = "revoke_oauth2", tag = "standards",
    security(("client" = [])),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "RFC 7009: revoked, or the token was unknown (the same answer)"),
        (status = 400, description = "`invalid_request` (no `token`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_client`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_media_type`", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn revoke(State(app): State<AppState>, form: ClientForm) -> Result<Response, ApiError> {
    let token = required_token(&form.params)?;
    let hint = form
        .params
        .get("token_type_hint")
        .and_then(TokenTypeHint::parse);
    app.sessions
        .revoke_token(token, hint, Timestamp::now())
        .await?;
    Ok(no_store(StatusCode::OK))
}

fn required_token(params: &FormParams) -> Result<&str, ApiError> {
    params.get("token").ok_or_else(|| {
        ApiError::request(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the form parameter \"token\" is required",
        )
    })
}

/// RFC 7662 §2.2 / RFC 6749 §5.1: token information must not be cached.
fn no_store(body: impl IntoResponse) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// Adds to every problem these endpoints answer the member OAuth 2.0 clients read (RFC 6749
/// §5.2, which RFC 7662 §2.3 and RFC 7009 §2.2.1 point to): `error`, the same value as
/// `code` (`invalid_client`, `invalid_request`, `unsupported_token_type`, …). The problem
/// stays a problem (RFC 9457 allows extension members); a body that is not one is left
/// alone.
pub async fn oauth_error_member(res: Response) -> Response {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/problem+json");
    if !is_problem {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (parts.status, "").into_response();
    };
    let mut problem: serde_json::Map<String, serde_json::Value> =
        match serde_json::from_slice(&bytes) {
            Ok(p) => p,
            Err(_) => return Response::from_parts(parts, axum::body::Body::from(bytes)),
        };
    if let Some(code) = problem.get("code").cloned() {
        problem.insert("error".into(), code);
    }
    let json = serde_json::to_vec(&problem).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(json))
}
