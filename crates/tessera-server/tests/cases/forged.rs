//! Forged and out-of-policy access tokens through the HTTP API. The verifier's rules are
//! tested one by one in tessera-core; this proves the server applies them and answers each
//! with the right code.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::EncodingKey;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use tessera_core::keys::{KeyMaterial, KeyRing};
use tessera_core::time::Timestamp;
use tessera_core::token::{TokenIssuer, TokenRequest};

use super::signin::decode;
use crate::common::{Backend, TestServer, email};

pub async fn forged_and_out_of_policy_tokens_are_refused(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let genuine = s.signed_up(&email("forge")).await.access;
    assert_eq!(s.me(&genuine).await.status, StatusCode::OK);
    let (header, claims) = decode(&genuine);

    let signing_keys = s.signing_keys().await;
    let stored = signing_keys[0].clone();
    let KeyMaterial::PrivateKeyPem(pem) = &stored.material else {
        panic!("EdDSA key expected")
    };
    let key = EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
    let sign = |h: &Value, c: &Value| {
        let msg = format!(
            "{}.{}",
            B64.encode(h.to_string()),
            B64.encode(c.to_string())
        );
        let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), &key, jsonwebtoken::Algorithm::EdDSA)
            .unwrap();
        format!("{msg}.{sig}")
    };
    let edit = |f: &dyn Fn(&mut Value, &mut Value)| {
        let (mut h, mut c) = (header.clone(), claims.clone());
        f(&mut h, &mut c);
        sign(&h, &c)
    };

    let unsigned = {
        let mut h = header.clone();
        h["alg"] = json!("none");
        format!(
            "{}.{}.",
            B64.encode(h.to_string()),
            B64.encode(claims.to_string())
        )
    };
    let hs256_with_public_key = {
        let ring =
            KeyRing::new(&signing_keys, Duration::from_secs(3600), Timestamp::now()).unwrap();
        let public = serde_json::to_string(&ring.jwks().keys[0]).unwrap();
        let mut h = header.clone();
        h["alg"] = json!("HS256");
        let msg = format!(
            "{}.{}",
            B64.encode(h.to_string()),
            B64.encode(claims.to_string())
        );
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(public.as_bytes()).unwrap();
        mac.update(msg.as_bytes());
        format!("{msg}.{}", B64.encode(mac.finalize().into_bytes()))
    };
    let tampered = {
        let mut c = claims.clone();
        c["sub"] = json!(tessera_core::ids::UserId::new().to_string());
        let mut parts: Vec<String> = genuine.split('.').map(str::to_owned).collect();
        parts[1] = B64.encode(c.to_string());
        parts.join(".")
    };
    let expired = {
        let ring =
            KeyRing::new(&signing_keys, Duration::from_secs(3600), Timestamp::now()).unwrap();
        let issuer = TokenIssuer {
            issuer: s.issuer.clone(),
            audience: "tessera".into(),
            client_id: "tessera".into(),
            ttl: Duration::from_secs(60),
        };
        let then = Timestamp::now().minus(Duration::from_secs(600));
        let (jti, exp) = issuer.grant(then);
        let req = TokenRequest {
            user: claims["sub"].as_str().unwrap().parse().unwrap(),
            session: claims["sid"].as_str().unwrap().parse().unwrap(),
            token_version: 0,
            amr: vec!["pwd".into()],
            fingerprint_hash: None,
        };
        issuer.sign(&ring, req, jti, exp, then).unwrap().token
    };

    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", unsigned, "invalid_token"),
        (
            "HS256 signed with our public key",
            hs256_with_public_key,
            "invalid_token",
        ),
        (
            "unknown kid",
            edit(&|h, _| h["kid"] = json!("nope")),
            "invalid_token",
        ),
        (
            "jku header",
            edit(&|h, _| h["jku"] = json!("https://evil.example/jwks")),
            "invalid_token",
        ),
        (
            "jwk header",
            edit(&|h, _| h["jwk"] = json!({"kty": "OKP"})),
            "invalid_token",
        ),
        (
            "unknown crit",
            edit(&|h, _| h["crit"] = json!(["x-ext"])),
            "invalid_token",
        ),
        (
            "wrong typ",
            edit(&|h, _| h["typ"] = json!("JWT")),
            "invalid_token",
        ),
        (
            "wrong iss",
            edit(&|_, c| c["iss"] = json!("https://evil.example")),
            "invalid_token",
        ),
        (
            "wrong aud",
            edit(&|_, c| c["aud"] = json!("other")),
            "invalid_token",
        ),
        (
            "string exp",
            edit(&|_, c| c["exp"] = json!(c["exp"].to_string())),
            "invalid_token",
        ),
        (
            "missing sid",
            edit(&|_, c| {
                c.as_object_mut().unwrap().remove("sid");
            }),
            "invalid_token",
        ),
        (
            "oversized",
            edit(&|_, c| c["pad"] = json!("x".repeat(6000))),
            "invalid_token",
        ),
        ("tampered payload", tampered, "invalid_token"),
        ("expired", expired, "token_expired"),
        ("garbage", "garbage.token.here".to_owned(), "invalid_token"),
    ];
    for (name, token, code) in cases {
        let r = s.me(&token).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some(code)),
            "{name}"
        );
        assert!(r.is_problem(), "{name}");
        assert!(r.headers.contains_key("www-authenticate"), "{name}");
    }
    // A genuine signature on claims for a jti the store never registered: revoked.
    let unregistered = edit(&|_, c| c["jti"] = json!(uuid::Uuid::new_v4().to_string()));
    assert_eq!(s.me(&unregistered).await.code(), Some("token_revoked"));
}
