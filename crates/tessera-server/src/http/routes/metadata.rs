//! `GET /.well-known/oauth-authorization-server` (RFC 8414).

use axum::http::StatusCode;
use axum::response::Response;

use crate::http::error::problem;

/// RFC 8414 authorization server metadata.
pub async fn authorization_server() -> Response {
    problem(StatusCode::NOT_IMPLEMENTED, "not_implemented", "not implemented yet".into())
}
