//! JSON bodies.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::http::ApiError;

/// A JSON request body. Rejections: malformed JSON → 400 `invalid_json`; wrong shape (missing
/// field, wrong type) → 422 `invalid_request`; not `application/json` → 415
/// `unsupported_media_type`; over the body limit → 413 `payload_too_large`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(reject(rejection)),
        }
    }
}

impl<T: DeserializeOwned> ApiJson<T> {
    /// Parses an already-read body with the same checks and rejections as the extractor.
    pub fn from_bytes(headers: &axum::http::HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        let json_type = headers
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !json_type {
            return Err(reject(JsonRejection::MissingJsonContentType(
                Default::default(),
            )));
        }
        axum::Json::<T>::from_bytes(body)
            .map(|axum::Json(v)| ApiJson(v))
            .map_err(reject)
    }
}

fn reject(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::JsonDataError(e) => ApiError::request(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
            // serde's message names the field and the expected type.
            format!(
                "the request body does not have the expected fields: {}",
                inner(&e.body_text())
            ),
        ),
        JsonRejection::JsonSyntaxError(_) => ApiError::request(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the request body is not valid JSON",
        ),
        JsonRejection::MissingJsonContentType(_) => ApiError::request(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "expected Content-Type: application/json",
        ),
        JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::request(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
        }
        _ => ApiError::request(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request body could not be read",
        ),
    }
}

/// Drops axum's prefix ("Failed to deserialize the JSON body into the target type: ").
fn inner(text: &str) -> &str {
    text.rsplit_once("target type: ")
        .map(|(_, t)| t)
        .unwrap_or(text)
}
