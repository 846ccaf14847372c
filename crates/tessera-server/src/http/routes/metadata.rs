//! `GET /.well-known/oauth-authorization-server` (RFC 8414).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::app::AppState;

/// How clients may authenticate to introspection and revocation.
const CLIENT_AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];

/// RFC 8414 authorization server metadata. Only what is true of Tessera: it publishes its
/// keys and offers introspection and revocation to configured clients; it has no OAuth
/// authorization or token endpoint (sign-in is `/v1/auth/*`), so it lists no response type,
/// grant type or scope, and no token-endpoint authentication method.
#[utoipa::path(
    get, path = "/.well-known/oauth-authorization-server", tag = "standards",
    responses(
        (status = 200, description = "RFC 8414 metadata: the issuer, the JWKS, introspection and revocation endpoints", body = Object),
    ),
)]
pub async fn authorization_server(State(app): State<AppState>) -> Response {
    let issuer = app.settings.issuer.as_str();
    let base = issuer.trim_end_matches('/');
    let body = json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        // Required by RFC 8414; empty because Tessera has no authorization endpoint.
        "response_types_supported": [],
        // Explicitly empty: omitted, it would default to authorization_code and implicit.
        "grant_types_supported": [],
        "introspection_endpoint": format!("{base}/oauth2/introspect"),
        "introspection_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
        "revocation_endpoint": format!("{base}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": CLIENT_AUTH_METHODS,
    });
    let mut res = Json(body).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}
