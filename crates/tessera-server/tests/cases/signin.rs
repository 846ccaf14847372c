//! Registration and sign-in.

use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{Backend, PW, TestServer, email};

pub async fn register_normalises_email_and_refuses_duplicates_and_bad_input(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("reg");
    let r = s.register(&format!("  {} ", e.to_uppercase()), PW).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["user"]["email"], e.as_str(), "email normalised");
    assert!(
        r.body["user"]["id"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
    assert!(r.body["user"]["created_at"].as_str().is_some());
    assert!(r.body["user"].get("password_hash").is_none());

    let dup = s.register(&e, PW).await;
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, Some("email_taken"))
    );
    let dup = s.register(&e.to_uppercase(), PW).await;
    assert_eq!(dup.code(), Some("email_taken"), "duplicate in another case");

    let bad = s.register("not-an-email", PW).await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_email"))
    );
    for weak in ["abc", "password123", "qwertyuiop"] {
        let r = s.register(&email("weak"), weak).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password")),
            "{weak}"
        );
        assert!(r.is_problem());
    }
}

pub async fn unknown_email_and_wrong_password_are_indistinguishable(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("enum");
    s.register(&e, PW).await;
    let wrong = s.login(&e, "wrong password 123456").await;
    let unknown = s.login(&email("nobody"), "wrong password 123456").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.code(), Some("invalid_credentials"));
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(
        wrong.body, unknown.body,
        "same body for unknown email and wrong password"
    );
    assert!(wrong.is_problem());
    let malformed = s.login("not an email", "wrong password 123456").await;
    assert_eq!(malformed.body, wrong.body);
}

pub async fn login_returns_a_token_pair_that_me_accepts(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("login");
    s.register(&e, PW).await;
    let r = s.login(&e.to_uppercase(), PW).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(
        r.body["expires_in"].as_u64().map(|s| s > 800 && s <= 900),
        Some(true)
    );
    assert!(r.body["refresh_expires_in"].as_u64().is_some_and(|s| s > 0));
    assert_eq!(
        r.headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let refresh = r.str("refresh_token");
    assert!(
        refresh.starts_with("tsr_") && !refresh.contains('.'),
        "refresh token is opaque"
    );

    let at = r.str("access_token");
    let (header, claims) = decode(&at);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    assert!(header["kid"].as_str().is_some());
    for c in [
        "iss",
        "aud",
        "sub",
        "client_id",
        "exp",
        "iat",
        "jti",
        "sid",
        "ver",
        "amr",
    ] {
        assert!(claims.get(c).is_some(), "claim {c}");
    }
    assert_eq!(claims["iss"], s.issuer.as_str());
    assert_eq!(claims["sid"], r.body["session_id"]);

    let me = s.me(&at).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.body["email"], e.as_str());
    assert_eq!(me.body["session_id"], r.body["session_id"]);
    assert_eq!(me.body["id"], claims["sub"]);
    assert_eq!(me.body["mfa_enabled"], false);

    let none = s.call(reqwest::Method::GET, "/v1/me", None, None).await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::UNAUTHORIZED, Some("missing_token"))
    );
    assert!(none.headers.contains_key("www-authenticate"));
}

/// Header and claims of a JWS, unverified.
pub fn decode(token: &str) -> (Value, Value) {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut it = token.split('.');
    let h = serde_json::from_slice(&b64.decode(it.next().unwrap()).unwrap()).unwrap();
    let c = serde_json::from_slice(&b64.decode(it.next().unwrap()).unwrap()).unwrap();
    (h, c)
}
