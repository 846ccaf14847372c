//! JSON bodies.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::http::ApiError;

/// A JSON request body. Rejections: malformed JSON → 400 `invalid_json`; wrong shape (missing
/// field, wrong type) → 422 `invalid_request`; not `application/json` → 415
/// `unsupported_media_type`; over the body limit → 413 `payload_too_large`.
///
/// The extractor and [`ApiJson::from_bytes`] (for a body already read) accept the same
/// `Content-Type`s ([`is_json`]): the fuzz target `json_bodies` found the refresh endpoint,
/// which reads its body first, accepting types every other endpoint refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(unsupported_media_type());
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| reject(JsonRejection::from(e)))?;
        axum::Json::<T>::from_bytes(&body)
            .map(|axum::Json(v)| ApiJson(v))
            .map_err(reject)
    }
}

impl<T: DeserializeOwned> ApiJson<T> {
    /// Parses an already-read body with the same checks and rejections as the extractor.
    pub fn from_bytes(headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        if !is_json(headers) {
            return Err(unsupported_media_type());
        }
        axum::Json::<T>::from_bytes(body)
            .map(|axum::Json(v)| ApiJson(v))
            .map_err(reject)
    }
}

/// Whether the `Content-Type` is JSON: `application/json` or `application/<anything>+json`,
/// in any case (media types are case-insensitive), with or without parameters.
pub fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    let subtype = subtype.to_ascii_lowercase();
    kind.eq_ignore_ascii_case("application")
        && (subtype == "json" || subtype.ends_with("+json"))
        && !subtype.contains(|c: char| c.is_ascii_whitespace() || c == '/')
}

fn unsupported_media_type() -> ApiError {
    reject(JsonRejection::MissingJsonContentType(Default::default()))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::body::Body;
    use axum::http::HeaderValue;
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Body1 {
        #[allow(dead_code)]
        a: u32,
    }

    fn status(r: Result<ApiJson<Body1>, ApiError>) -> Option<StatusCode> {
        match r {
            Ok(_) => None,
            Err(ApiError::Request { status, .. }) => Some(status),
            Err(e) => panic!("{e:?}"),
        }
    }

    #[tokio::test]
    async fn the_extractor_and_from_bytes_accept_the_same_content_types() {
        let cases: &[(Option<&str>, bool)] = &[
            (Some("application/json"), true),
            (Some("application/json; charset=utf-8"), true),
            (Some("Application/JSON"), true),
            (Some("application/problem+json"), true),
            (Some("application/vnd.api+JSON ; x=y"), true),
            // Found by the `json_bodies` fuzz target: refused by the extractor, accepted by
            // `from_bytes` (the refresh endpoint), before both used `is_json`.
            (Some("application/json; chjson; charset=utf-8"), true),
            (Some("text/json"), false),
            (Some("application/json garbage"), false),
            (Some("application/jsonx"), false),
            (Some("application"), false),
            (None, false),
        ];
        for &(content_type, json) in cases {
            let mut headers = HeaderMap::new();
            let mut req = Request::builder().method("POST").uri("/");
            if let Some(ct) = content_type {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
                req = req.header(header::CONTENT_TYPE, ct);
            }
            let body = br#"{"a":1}"#;
            let req = req.body(Body::from(&body[..])).unwrap();
            let want = (!json).then_some(StatusCode::UNSUPPORTED_MEDIA_TYPE);
            let extracted = ApiJson::<Body1>::from_request(req, &()).await;
            assert_eq!(status(extracted), want, "{content_type:?}");
            let read = ApiJson::<Body1>::from_bytes(&headers, body);
            assert_eq!(status(read), want, "{content_type:?}");
        }
    }

    #[tokio::test]
    async fn bodies_are_rejected_by_kind() {
        for (body, want) in [
            (&b"{"[..], Some(StatusCode::BAD_REQUEST)),
            (br#"{"a":"1"}"#, Some(StatusCode::UNPROCESSABLE_ENTITY)),
            (br#"{"a":1}"#, None),
        ] {
            let req = Request::builder()
                .method("POST")
                .uri("/")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap();
            assert_eq!(status(ApiJson::<Body1>::from_request(req, &()).await), want);
        }
    }
}
