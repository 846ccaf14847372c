//! The JSON request bodies: the `ApiJson<T>` extractor (axum `FromRequest`) over the request
//! types of the routes, and `ApiJson::from_bytes` (the refresh endpoint's path).
//!
//! The input is text: the body type on the first line (`register`, `login`, `refresh`, ...;
//! any other line picks a type by its bytes), the `Content-Type` on the second (`-` for
//! none), the body after. Besides "no panic": a rejection is one of the documented problems
//! (400 `invalid_json`, 413, 415, 422 `invalid_request`) and turns into a response; the
//! extractor and `from_bytes` accept the same requests and reject the others alike.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::FromRequest;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::IntoResponse;
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use tessera_server::http::ApiError;
use tessera_server::http::extract::ApiJson;
use tessera_server::http::extract::refresh::RefreshRequest;
use tessera_server::http::routes::{admin, auth, federation, mfa, passkeys, password};

/// The body types, by the name the first line gives.
const TYPES: &[&str] = &[
    "register",
    "login",
    "refresh",
    "mfa",
    "mfa_enrol",
    "mfa_code",
    "mfa_disable",
    "password_forgot",
    "password_reset",
    "password_change",
    "passkey_register_options",
    "passkey_register",
    "passkey_sign_in_options",
    "passkey_sign_in",
    "oauth_exchange",
    "oauth_link",
    "admin_ban",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let name = parts.next().unwrap_or_default();
    let content_type = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let which = TYPES
        .iter()
        .position(|t| t.as_bytes() == name)
        .unwrap_or_else(|| name.iter().map(|&b| usize::from(b)).sum::<usize>() % TYPES.len());
    let content_type = match content_type {
        b"-" => None,
        ct => HeaderValue::from_bytes(ct).ok(),
    };
    match TYPES[which] {
        "register" => check::<auth::RegisterRequest>(content_type, body),
        "login" => check::<auth::LoginRequest>(content_type, body),
        "refresh" => check::<RefreshRequest>(content_type, body),
        "mfa" => check::<mfa::MfaRequest>(content_type, body),
        "mfa_enrol" => check::<mfa::EnrolRequest>(content_type, body),
        "mfa_code" => check::<mfa::CodeRequest>(content_type, body),
        "mfa_disable" => check::<mfa::DisableRequest>(content_type, body),
        "password_forgot" => check::<password::ForgotRequest>(content_type, body),
        "password_reset" => check::<password::ResetRequest>(content_type, body),
        "password_change" => check::<password::ChangeRequest>(content_type, body),
        "passkey_register_options" => check::<passkeys::RegisterOptionsRequest>(content_type, body),
        "passkey_register" => check::<passkeys::RegisterRequest>(content_type, body),
        "passkey_sign_in_options" => check::<passkeys::SignInOptionsRequest>(content_type, body),
        "passkey_sign_in" => check::<passkeys::SignInRequest>(content_type, body),
        "oauth_exchange" => check::<federation::ExchangeRequest>(content_type, body),
        "oauth_link" => check::<federation::LinkRequest>(content_type, body),
        _ => check::<admin::BanRequest>(content_type, body),
    }
});

fn check<T: DeserializeOwned>(content_type: Option<HeaderValue>, body: &[u8]) {
    let mut req = Request::builder().method("POST").uri("/");
    if let Some(ct) = &content_type {
        req = req.header(header::CONTENT_TYPE, ct.clone());
    }
    let Ok(req) = req.body(Body::from(body.to_vec())) else {
        return;
    };
    let headers = req.headers().clone();
    let extracted = runtime().block_on(ApiJson::<T>::from_request(req, &()));
    let from_bytes = ApiJson::<T>::from_bytes(&headers, body);
    let outcome = |r: &Result<ApiJson<T>, ApiError>| match r {
        Ok(_) => Ok(()),
        Err(ApiError::Request { status, code, .. }) => Err((*status, *code)),
        Err(other) => panic!("a body was refused with a domain error: {other:?}"),
    };
    let (a, b) = (outcome(&extracted), outcome(&from_bytes));
    assert_eq!(
        a, b,
        "extractor and from_bytes disagree, content type {content_type:?}"
    );
    if let Err((status, code)) = a {
        let documented = [
            (StatusCode::BAD_REQUEST, "invalid_json"),
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        ];
        assert!(documented.contains(&(status, code)), "{status} {code}");
    }
    if let Err(e) = extracted {
        let response = e.into_response();
        assert!(response.status().is_client_error());
    }
}
