//! Malformed requests: always a problem+json 4xx, never a 5xx, nothing written.

use reqwest::{Method, StatusCode};

use crate::common::{Backend, TestServer};

pub async fn bad_requests_get_problem_json_never_5xx(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let json = "application/json";
    for (path, ctype, body, status, code) in [
        ("/v1/auth/login", json, b"{".to_vec(), 400, "invalid_json"),
        (
            "/v1/auth/login",
            json,
            b"{}".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "/v1/auth/login",
            json,
            br#"{"email": 5, "password": []}"#.to_vec(),
            422,
            "invalid_request",
        ),
        (
            "/v1/auth/login",
            json,
            b"[]".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "/v1/auth/login",
            json,
            b"null".to_vec(),
            422,
            "invalid_request",
        ),
        (
            "/v1/auth/login",
            "text/plain",
            b"email=a".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/auth/register",
            json,
            br#"{"email":"a@b.example","password":null}"#.to_vec(),
            422,
            "invalid_request",
        ),
        (
            "/v1/auth/refresh",
            json,
            br#"{"refresh_token": 42}"#.to_vec(),
            422,
            "invalid_request",
        ),
        (
            "/v1/auth/refresh",
            json,
            b"\xff\xfe".to_vec(),
            400,
            "invalid_json",
        ),
    ] {
        let r = s.raw(Method::POST, path, ctype, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (status, Some(code)),
            "{path} {:?}",
            String::from_utf8_lossy(&body)
        );
        assert!(r.is_problem(), "{path}: problem+json");
        assert_eq!(r.body["status"], status);
    }
    let big = format!(
        r#"{{"email":"a@b.example","password":"{}"}}"#,
        "x".repeat(3 << 20)
    );
    // The server answers 413 without reading the body and then closes the connection: use a
    // client of its own so no later request lands on that connection.
    // Depending on timing the client sees the 413 or a connection closed mid-upload; either
    // way the server must have refused it, stay up, and write nothing.
    if let Some(r) = s
        .fresh()
        .try_raw(Method::POST, "/v1/auth/register", json, big.into_bytes())
        .await
    {
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
        );
    }
    let s = s.fresh();
    assert_eq!(
        s.call(Method::GET, "/healthz", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        s.login("a@b.example", "x").await.code(),
        Some("invalid_credentials"),
        "nothing was written"
    );

    let r = s.call(Method::GET, "/v1/nope", None, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let r = s.call(Method::GET, "/v1/auth/login", None, None).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    for header in ["Bearer", "Bearer ", "Basic abc", "bearer a.b.c", "Token x"] {
        let r = s.with_authorization("/v1/me", header).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header}");
    }
}

/// Input that axum itself refuses before a handler runs — a query string that does not parse,
/// a path segment that is not UTF-8, an oversized refresh body — is a problem too, never
/// `text/plain` (found by schemathesis: `GET /v1/security-events?limit=null`).
pub async fn rejections_outside_json_bodies_are_problems_too(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.max_body_bytes = Some(1024)).await else {
        return;
    };
    let user = s.signed_up(&crate::common::email("rejections")).await;
    for (method, path) in [
        (Method::GET, "/v1/security-events?limit=null&limit=null"),
        (Method::GET, "/v1/security-events?limit=-1"),
        (Method::DELETE, "/v1/sessions/%FF%FE"),
        (Method::DELETE, "/v1/tokens/%C0"),
    ] {
        let r = s.call(method.clone(), path, None, Some(&user.access)).await;
        assert!(r.status.is_client_error(), "{method} {path}: {r:?}");
        assert!(r.is_problem(), "{method} {path}: {r:?}");
        assert!(r.code().is_some(), "{method} {path}: {r:?}");
    }
    let r = s
        .call(
            Method::GET,
            "/v1/security-events?limit=abc",
            None,
            Some(&user.access),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{r:?}"
    );
    // The refresh endpoint reads its body itself (it may be empty with the cookie transport).
    if let Some(r) = s
        .try_raw(
            Method::POST,
            "/v1/auth/refresh",
            "application/json",
            vec![b' '; 4096],
        )
        .await
    {
        assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{r:?}");
        assert!(r.is_problem(), "{r:?}");
    }
}
