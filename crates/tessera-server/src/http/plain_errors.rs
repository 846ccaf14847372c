//! Every error answer is a problem: axum's own rejections (a query string that does not
//! parse, a path segment that is not UTF-8, a body over the limit read by an extractor other
//! than [`super::extract::ApiJson`]) answer `text/plain`; this layer turns them into
//! `application/problem+json` with a stable `code` chosen by the status (so does a bare error
//! status without a body), and keeps the
//! rejection's text as the `detail` (it names the parameter and the parse error, never a
//! secret).

use axum::body::to_bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::error::problem;

/// A rejection's text is a line or two; anything longer is cut.
const MAX_DETAIL: usize = 300;

/// The `code` of a problem made from a bare rejection with `status`.
fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        s if s.is_server_error() => "internal_error",
        _ => "invalid_request",
    }
}

/// Turns a `text/plain` error answer into a problem; leaves every other answer alone.
pub async fn as_problem(res: Response) -> Response {
    let status = res.status();
    // A rejection is `text/plain`; a bare status (no body) has no content type.
    let plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().ok())
        .is_none_or(|v| v.is_some_and(|v| v.starts_with("text/plain")));
    if !(plain && (status.is_client_error() || status.is_server_error())) {
        return res;
    }
    let (parts, body) = res.into_parts();
    let text = to_bytes(body, 4 * MAX_DETAIL).await.unwrap_or_default();
    let detail: String = String::from_utf8_lossy(&text)
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_DETAIL)
        .collect();
    if status.is_server_error() {
        // Not made by `http::error` (which logs its own): an extractor or layer failed.
        tracing::error!(status = status.as_u16(), detail, "request failed");
    }
    let detail = if status.is_server_error() || detail.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("the request failed")
            .to_lowercase()
    } else {
        detail
    };
    let mut answer = problem(status, code_for(status), detail);
    // Keep what the rejection said besides its body (e.g. `Allow` on 405), every value.
    let headers = answer.headers_mut();
    for name in parts.headers.keys() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            headers.remove(name);
        }
    }
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            headers.append(name.clone(), value.clone());
        }
    }
    answer
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    async fn body(res: Response) -> serde_json::Value {
        let bytes = to_bytes(res.into_body(), 10_000).await.unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_plain_rejection_becomes_a_problem_with_its_text() {
        let res = (
            StatusCode::BAD_REQUEST,
            "Failed to deserialize query string: limit: invalid digit found in string",
        )
            .into_response();
        let res = as_problem(res).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let b = body(res).await;
        assert_eq!(b["code"], "invalid_request");
        assert!(b["detail"].as_str().is_some_and(|d| d.contains("limit")));
    }

    #[tokio::test]
    async fn a_plain_server_error_keeps_its_text_out() {
        let res = (StatusCode::INTERNAL_SERVER_ERROR, "db password is hunter2").into_response();
        let b = body(as_problem(res).await).await;
        assert_eq!(b["code"], "internal_error");
        assert!(!b["detail"].as_str().unwrap_or("").contains("hunter2"));
    }

    #[tokio::test]
    async fn other_answers_pass_untouched() {
        let ok = as_problem((StatusCode::OK, "fine").into_response()).await;
        assert_eq!(
            ok.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let created = as_problem(StatusCode::NO_CONTENT.into_response()).await;
        assert!(created.headers().get(header::CONTENT_TYPE).is_none());
        let json = as_problem(
            (
                StatusCode::UNAUTHORIZED,
                axum::Json(serde_json::json!({"active": false})),
            )
                .into_response(),
        )
        .await;
        assert_eq!(json.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[tokio::test]
    async fn a_bare_error_status_becomes_a_problem() {
        let res = as_problem(StatusCode::NOT_FOUND.into_response()).await;
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        assert_eq!(body(res).await["code"], "not_found");
    }
}
