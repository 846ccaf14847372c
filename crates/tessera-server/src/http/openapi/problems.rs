//! Problem details (RFC 9457) in the document: the schema, and the rule that any operation
//! may answer one.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::{OpenApi, RefOr, Response};
use utoipa::{Modify, ToSchema};

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer (RFC 9457). A 429 or 503 carries the `Retry-After` header.
#[allow(dead_code)] // The schema of `http::error`'s problems; never built as this type.
#[derive(ToSchema)]
#[schema(example = json!({
    "type": "about:blank",
    "title": "Unauthorized",
    "status": 401,
    "code": "invalid_token",
    "detail": "the access token is not valid: bad signature"
}))]
pub struct Problem {
    /// Always `about:blank`: `code` is the machine-readable kind.
    #[schema(rename = "type")]
    kind: String,
    /// The HTTP status's reason phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// Stable, machine-readable: what clients branch on.
    code: String,
    /// For humans; never internal text, never a secret.
    detail: String,
    /// With `invalid_code` at `POST /v1/auth/mfa`: wrong codes left before the challenge
    /// ends.
    attempts_left: Option<u32>,
    /// At `/oauth2/introspect` and `/oauth2/revoke` only: the OAuth 2.0 error code (RFC 6749
    /// §5.2), the same value as `code`, for OAuth client libraries.
    error: Option<String>,
}

/// Adds to every operation a `default` answer: a problem. The codes an operation is known for
/// are listed in its own responses; this covers the ones any request may meet (400
/// `invalid_json`, 413 `payload_too_large`, 415 `unsupported_media_type`, 422
/// `invalid_request`, 429 `rate_limited`, 500 `internal_error`, 503
/// `state_store_unavailable` / `database_unavailable`).
pub struct CommonProblems;

impl Modify for CommonProblems {
    fn modify(&self, api: &mut OpenApi) {
        for item in api.paths.paths.values_mut() {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                op.responses
                    .responses
                    .entry("default".to_owned())
                    .or_insert_with(default_problem);
            }
        }
    }
}

/// A problem answer with `description`.
pub fn problem_response(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "Problem",
                    ))))
                    .build(),
            )
            .build(),
    )
}

fn default_problem() -> RefOr<Response> {
    problem_response(
        "A problem: `invalid_json` (400), `payload_too_large` (413), `unsupported_media_type` \
         (415), `invalid_request` (422), `rate_limited` (429, with `Retry-After`), \
         `internal_error` (500), `state_store_unavailable` or `database_unavailable` (503), \
         or a code listed with this operation",
    )
}
