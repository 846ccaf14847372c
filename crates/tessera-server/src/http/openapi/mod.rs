//! The API described: OpenAPI 3.1 generated from the handlers' `#[utoipa::path]` annotations
//! as the router registers them ([`super::router`] builds both from one list, so a route
//! cannot be served without being described), served at `GET /openapi.json`, and a page
//! rendering it at `GET /docs` ([`docs`]).
//!
//! What is written here is what the annotations cannot say of one handler: the document's
//! header, the security schemes, the problem-details schema, and the rule that every
//! operation may answer a problem ([`CommonProblems`]).

pub mod docs;
pub mod problems;
pub mod schemas;
pub mod security;

use std::sync::{Arc, LazyLock};

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

pub use problems::Problem;
use security::SecuritySchemes;

/// The document's fixed parts; the paths are added by the router, which then applies
/// [`problems::CommonProblems`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera",
        description = "JWT sessions whose access tokens are revocable at once. Errors are RFC 9457 \
problem details (`application/problem+json`) with a stable `code`; the description of each \
response lists the codes it may carry.",
        license(name = "Apache-2.0 OR MIT"),
    ),
    modifiers(&SecuritySchemes),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Sign-in, refresh and sign-out"),
        (name = "account", description = "The signed-in user: profile, sessions, devices, events"),
        (name = "mfa", description = "Second factor"),
        (name = "password", description = "Password reset and change"),
        (name = "passkeys", description = "Passkeys (WebAuthn)"),
        (name = "federation", description = "Sign-in with OpenID Connect and OAuth 2.0 providers"),
        (name = "admin", description = "Operators: an admin API key or an admin-scoped token"),
        (name = "standards", description = "JWKS, RFC 8414 metadata, RFC 7662 introspection, RFC 7009 revocation"),
        (name = "operations", description = "Health, readiness, metrics and this description"),
    )
)]
pub struct ApiDoc;

/// The serialised document, made once, on first use, from the router's own route list
/// ([`openapi_document`](crate::http::router::openapi_document)): a constant of the build,
/// so no request carries it.
#[derive(Clone)]
pub struct Document(Arc<[u8]>);

static SERVED: LazyLock<Document> =
    LazyLock::new(|| Document::new(&crate::http::router::openapi_document()));

/// Builds the served document if nothing has yet (the router calls it, so the first request
/// for `/openapi.json` does not pay for it).
pub fn prepare_document() {
    LazyLock::force(&SERVED);
}

impl Document {
    /// Serialises `api`. The document is built from static annotations, so serialising
    /// cannot fail in practice; if it did, the document says so rather than the server
    /// refusing to start.
    pub fn new(api: &utoipa::openapi::OpenApi) -> Self {
        let bytes = serde_json::to_vec(api).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the OpenAPI document could not be serialised");
            br#"{"openapi":"3.1.0","info":{"title":"Tessera","version":"unknown"},"paths":{}}"#
                .to_vec()
        });
        Document(bytes.into())
    }
}

/// `GET /openapi.json`.
#[utoipa::path(
    get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1)", content_type = "application/json", body = Object)),
)]
pub async fn openapi_json() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        axum::body::Bytes::from_owner(SERVED.0.clone()),
    )
        .into_response()
}
