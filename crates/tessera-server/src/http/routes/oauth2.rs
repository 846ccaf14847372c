//! `POST /oauth2/introspect` (RFC 7662) and `POST /oauth2/revoke` (RFC 7009). Both take a
//! form body and an authenticated client ([`ClientForm`]).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_core::time::Timestamp;

use crate::app::AppState;
use crate::auth::access::introspect::Introspection;
use crate::auth::sessions::oauth_revoke::TokenTypeHint;
use crate::http::ApiError;
use crate::http::extract::client_auth::{ClientForm, FormParams};

/// RFC 7662 token introspection → 200 with the claims of a live access token and
/// `"active": true`, or exactly `{"active":false}` for anything that would be refused.
pub async fn introspect(
    State(app): State<AppState>,
    form: ClientForm,
) -> Result<Response, ApiError> {
    let token = required_token(&form.params)?;
    let body = match app.access.introspect(token, Timestamp::now()).await? {
        Introspection::Active(c) => {
            let mut body = json!({
                "active": true,
                "token_type": "Bearer",
                "iss": c.iss,
                "aud": c.aud,
                "sub": c.sub,
                "client_id": c.client_id,
                "exp": c.exp,
                "iat": c.iat,
                "jti": c.jti,
                "sid": c.sid,
                "amr": c.amr,
            });
            if let (Some(nbf), Value::Object(map)) = (c.nbf, &mut body) {
                map.insert("nbf".to_owned(), json!(nbf));
            }
            body
        }
        Introspection::Inactive => json!({"active": false}),
    };
    Ok(no_store(Json(body)))
}

/// RFC 7009 token revocation → 200 with an empty body, whether or not the token was known.
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
