//! `POST /oauth2/introspect` (RFC 7662) and `POST /oauth2/revoke` (RFC 7009).

use axum::http::StatusCode;
use axum::response::Response;

use crate::http::error::problem;

/// RFC 7662 token introspection.
pub async fn introspect() -> Response {
    problem(StatusCode::NOT_IMPLEMENTED, "not_implemented", "not implemented yet".into())
}

/// RFC 7009 token revocation.
pub async fn revoke() -> Response {
    problem(StatusCode::NOT_IMPLEMENTED, "not_implemented", "not implemented yet".into())
}
