//! The server's verification rules hold in the guard: a genuine token passes, every forged
//! or out-of-policy token is refused with its reason, before Redis is asked.

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use tessera_core::token::VerifyError;
use tessera_guard::GuardError;

use crate::support::forge::{forge, parts, sign_with};
use crate::support::redis::shared_standalone;
use crate::support::{ACCESS_TTL, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn genuine_token_is_accepted_with_its_claims() {
    let Some(target) = shared_standalone().await else {
        return;
    };
    let env = Env::new(&target, |_| {}).await;
    let login = env.login().await;
    let claims = env.auth(&login.token).await.unwrap();
    assert_eq!(claims, login.claims);
    assert_eq!(env.guard.stats().store_checks, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_forged_token_is_refused_without_asking_redis() {
    let Some(target) = shared_standalone().await else {
        return;
    };
    let env = Env::new(&target, |_| {}).await;
    let login = env.login().await;
    let t = &login.token;
    let iss = &env.issuer;
    let (h, p) = parts(t);

    // alg none, unsigned.
    let mut none = h.clone();
    none["alg"] = json!("none");
    let unsigned = {
        let full = sign_with(&h, &p, &EncodingKey::from_secret(b"x"), Algorithm::HS256);
        let (_, rest) = full.split_once('.').unwrap();
        let (payload, _) = rest.split_once('.').unwrap();
        let head = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            none.to_string(),
        );
        format!("{head}.{payload}.")
    };
    // HS256 keyed with the public key (alg confusion).
    let jwks = serde_json::to_value(iss.ring.jwks()).unwrap();
    let public_x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let mut hs = h.clone();
    hs["alg"] = json!("HS256");
    let confused = sign_with(
        &hs,
        &p,
        &EncodingKey::from_secret(public_x.as_bytes()),
        Algorithm::HS256,
    );
    let now = tessera_core::time::Timestamp::now().as_secs();
    let cases: Vec<(&str, String, VerifyError)> = vec![
        ("alg none", unsigned, VerifyError::AlgorithmNotAllowed),
        (
            "HS256 with the public key",
            confused,
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            "unknown kid",
            forge(iss, t, |h, _| h["kid"] = json!("no-such-kid")),
            VerifyError::UnknownKey,
        ),
        (
            "jku header",
            forge(iss, t, |h, _| h["jku"] = json!("https://evil.test/jwks")),
            VerifyError::ForbiddenHeader("jku"),
        ),
        (
            "jwk header",
            forge(iss, t, |h, _| h["jwk"] = jwks["keys"][0].clone()),
            VerifyError::ForbiddenHeader("jwk"),
        ),
        (
            "crit header",
            forge(iss, t, |h, _| h["crit"] = json!(["exp"])),
            VerifyError::UnknownCritical,
        ),
        (
            "wrong typ",
            forge(iss, t, |h, _| h["typ"] = json!("JWT")),
            VerifyError::WrongType,
        ),
        (
            "wrong iss",
            forge(iss, t, |_, p| p["iss"] = json!("https://evil.test")),
            VerifyError::WrongIssuer,
        ),
        (
            "wrong aud",
            forge(iss, t, |_, p| p["aud"] = json!("another-api")),
            VerifyError::WrongAudience,
        ),
        (
            "expired",
            forge(iss, t, |_, p| {
                p["iat"] = json!(now - 2 * ACCESS_TTL.as_secs() as i64);
                p["exp"] = json!(now - ACCESS_TTL.as_secs() as i64);
            }),
            VerifyError::Expired,
        ),
        (
            "tampered payload",
            {
                let (head, rest) = t.split_once('.').unwrap();
                let (_, sig) = rest.split_once('.').unwrap();
                let mut p2 = p.clone();
                p2["sub"] = json!(uuid::Uuid::now_v7().to_string());
                let body = base64::Engine::encode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    p2.to_string(),
                );
                format!("{head}.{body}.{sig}")
            },
            VerifyError::BadSignature,
        ),
        (
            "oversized",
            forge(iss, t, |_, p| p["pad"] = json!("x".repeat(5000))),
            VerifyError::Oversize,
        ),
    ];
    for (name, token, want) in cases {
        match env.auth(&token).await {
            Err(GuardError::InvalidToken(got)) => assert_eq!(got, want, "{name}"),
            other => panic!("{name}: expected {want:?}, got {other:?}"),
        }
    }
    assert_eq!(
        env.guard.stats().store_checks,
        0,
        "a forged token never reaches Redis"
    );
}
