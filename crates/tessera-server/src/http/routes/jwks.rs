//! `GET /.well-known/jwks.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppState;

/// Every public key that may still verify a live token. Cacheable for a minute: a rotated-in
/// key is published before it signs anything only if caches are short, and verifiers refetch
/// on an unknown `kid` anyway.
#[utoipa::path(
    get, path = "/.well-known/jwks.json", tag = "standards",
    responses(
        (status = 200, description = "RFC 7517 key set: every public key that may still verify a live token", body = Object),
    ),
)]
pub async fn jwks(State(app): State<AppState>) -> Response {
    let set = app.keys.current().jwks();
    let mut res = Json(set).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=60"),
    );
    res
}
