//! Adversarial tests of the access-token verifier: every forged or out-of-policy token is
//! refused with its own reason, and a genuine token passes.
// Tests read the clock: they are an edge.
#![allow(clippy::disallowed_methods)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use sha2::Sha256;
use tessera_core::ids::{SessionId, UserId};
use tessera_core::keys::{KeyMaterial, KeyRing, SigningAlg, StoredKey};
use tessera_core::time::Timestamp;
use tessera_core::token::{TokenIssuer, TokenRequest, Verifier, VerifyError};

const ISS: &str = "https://auth.example.test";
const AUD: &str = "tessera";

struct Fixture {
    stored: StoredKey,
    ring: KeyRing,
    issuer: TokenIssuer,
    verifier: Verifier,
    now: Timestamp,
}

fn fixture(alg: SigningAlg) -> Fixture {
    let now = Timestamp::from_secs(1_800_000_000);
    let stored = StoredKey::generate(alg, now).unwrap();
    let ring = KeyRing::new(std::slice::from_ref(&stored), Duration::from_secs(900), now).unwrap();
    Fixture {
        stored,
        ring,
        issuer: TokenIssuer {
            issuer: ISS.into(),
            audience: AUD.into(),
            client_id: "tessera".into(),
            ttl: Duration::from_secs(900),
        },
        verifier: Verifier::new(ISS, AUD),
        now,
    }
}

impl Fixture {
    fn genuine(&self) -> String {
        let (jti, exp) = self.issuer.grant(self.now);
        let req = TokenRequest {
            user: UserId::new(),
            session: SessionId::new(),
            token_version: 3,
            amr: vec!["pwd".into()],
            fingerprint_hash: None,
        };
        self.issuer
            .sign(&self.ring, req, jti, exp, self.now)
            .unwrap()
            .token
    }

    fn parts(&self, token: &str) -> (Value, Value) {
        let mut it = token.split('.');
        let h = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
        let p = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
        (h, p)
    }

    fn encoding_key(&self) -> EncodingKey {
        match &self.stored.material {
            KeyMaterial::PrivateKeyPem(pem) => match self.stored.alg {
                SigningAlg::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
                SigningAlg::ES256 => EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
                _ => EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            },
            KeyMaterial::HmacSecret(s) => EncodingKey::from_secret(&B64.decode(s).unwrap()),
        }
    }

    /// Re-signs arbitrary header and payload with our real private key.
    fn resign(&self, header: &Value, payload: &Value) -> String {
        let msg = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(payload.to_string())
        );
        let sig =
            jsonwebtoken::crypto::sign(msg.as_bytes(), &self.encoding_key(), self.stored.alg.jwt())
                .unwrap();
        format!("{msg}.{sig}")
    }

    /// Edits header and payload of a genuine token, then signs it properly.
    fn forge(&self, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
        let (mut h, mut p) = self.parts(&self.genuine());
        edit(&mut h, &mut p);
        self.resign(&h, &p)
    }

    fn check(&self, token: &str) -> Result<(), VerifyError> {
        self.verifier
            .verify(&self.ring, token, self.now)
            .map(|_| ())
    }
}

#[test]
fn genuine_tokens_verify_for_every_algorithm() {
    for alg in [
        SigningAlg::EdDSA,
        SigningAlg::ES256,
        SigningAlg::RS256,
        SigningAlg::HS256,
    ] {
        let f = fixture(alg);
        let t = f.genuine();
        let (h, p) = f.parts(&t);
        assert_eq!(h["typ"], "at+jwt");
        assert_eq!(h["kid"], f.stored.kid.as_str());
        for claim in [
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
            assert!(p.get(claim).is_some(), "{alg}: claim {claim} missing");
        }
        let c = f.verifier.verify(&f.ring, &t, f.now).unwrap();
        assert_eq!(c.ver, 3);
    }
}

#[test]
fn alg_none_is_refused() {
    let f = fixture(SigningAlg::EdDSA);
    let (mut h, p) = f.parts(&f.genuine());
    h["alg"] = json!("none");
    let t = format!(
        "{}.{}.",
        B64.encode(h.to_string()),
        B64.encode(p.to_string())
    );
    assert_eq!(f.check(&t), Err(VerifyError::AlgorithmNotAllowed));
    h["alg"] = json!("NoNe");
    let t = format!(
        "{}.{}.",
        B64.encode(h.to_string()),
        B64.encode(p.to_string())
    );
    assert_eq!(f.check(&t), Err(VerifyError::AlgorithmNotAllowed));
}

#[test]
fn hs256_signed_with_our_public_key_is_refused() {
    for alg in [SigningAlg::EdDSA, SigningAlg::RS256, SigningAlg::ES256] {
        let f = fixture(alg);
        let jwks = serde_json::to_value(f.ring.jwks()).unwrap();
        let public = jwks["keys"][0].to_string();
        let (mut h, p) = f.parts(&f.genuine());
        h["alg"] = json!("HS256");
        let msg = format!(
            "{}.{}",
            B64.encode(h.to_string()),
            B64.encode(p.to_string())
        );
        for secret in [public.as_bytes(), f.stored.kid.as_bytes()] {
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret).unwrap();
            mac.update(msg.as_bytes());
            let t = format!("{msg}.{}", B64.encode(mac.finalize().into_bytes()));
            assert_eq!(f.check(&t), Err(VerifyError::AlgorithmNotAllowed), "{alg}");
        }
    }
}

#[test]
fn header_alg_other_than_the_keys_is_refused_even_if_signed() {
    // An RS256 key must not verify a token whose header claims RS512 or PS256.
    let f = fixture(SigningAlg::RS256);
    let t = f.forge(|h, _| h["alg"] = json!("PS256"));
    assert_eq!(f.check(&t), Err(VerifyError::AlgorithmNotAllowed));
    let _ = Algorithm::PS256;
}

#[test]
fn unknown_or_missing_kid_is_refused() {
    let f = fixture(SigningAlg::EdDSA);
    let t = f.forge(|h, _| h["kid"] = json!("not-a-key"));
    assert_eq!(f.check(&t), Err(VerifyError::UnknownKey));
    let t = f.forge(|h, _| {
        h.as_object_mut().unwrap().remove("kid");
    });
    assert_eq!(f.check(&t), Err(VerifyError::UnknownKey));
}

#[test]
fn key_carrying_headers_are_refused() {
    let f = fixture(SigningAlg::EdDSA);
    let jwk = serde_json::to_value(&f.ring.jwks().keys[0]).unwrap();
    for (name, value) in [
        ("jku", json!("https://evil.example/jwks.json")),
        ("x5u", json!("https://evil.example/cert.pem")),
        ("jwk", jwk),
        ("x5c", json!(["MIIB"])),
    ] {
        let t = f.forge(|h, _| h[name] = value);
        assert_eq!(
            f.check(&t),
            Err(VerifyError::ForbiddenHeader(name)),
            "{name}"
        );
    }
}

#[test]
fn unknown_crit_is_refused() {
    let f = fixture(SigningAlg::EdDSA);
    let t = f.forge(|h, _| {
        h["crit"] = json!(["exp-ext"]);
        h["exp-ext"] = json!(true);
    });
    assert_eq!(f.check(&t), Err(VerifyError::UnknownCritical));
}

#[test]
fn wrong_typ_iss_aud_are_refused() {
    let f = fixture(SigningAlg::EdDSA);
    for typ in [json!("JWT"), json!("id+jwt"), Value::Null] {
        let t = f.forge(|h, _| h["typ"] = typ);
        assert_eq!(f.check(&t), Err(VerifyError::WrongType));
    }
    let t = f.forge(|h, _| h["typ"] = json!("application/at+jwt"));
    assert_eq!(f.check(&t), Ok(()), "RFC 9068 long form accepted");
    let t = f.forge(|_, p| p["iss"] = json!("https://evil.example"));
    assert_eq!(f.check(&t), Err(VerifyError::WrongIssuer));
    let t = f.forge(|_, p| p["aud"] = json!("another-api"));
    assert_eq!(f.check(&t), Err(VerifyError::WrongAudience));
}

#[test]
fn expired_and_future_tokens_are_refused_within_bounded_leeway() {
    let f = fixture(SigningAlg::EdDSA);
    let t = f.genuine();
    let exp = f.parts(&t).1["exp"].as_i64().unwrap();
    let at = |s: i64| {
        f.verifier
            .verify(&f.ring, &t, Timestamp::from_secs(s))
            .map(|_| ())
    };
    assert_eq!(at(exp + 29), Ok(()), "inside 30 s leeway");
    assert_eq!(at(exp + 30), Err(VerifyError::Expired));
    let huge = Verifier::new(ISS, AUD).with_leeway(Duration::from_secs(86_400));
    assert_eq!(
        huge.verify(&f.ring, &t, Timestamp::from_secs(exp + 61))
            .map(|_| ()),
        Err(VerifyError::Expired),
        "leeway is capped at 60 s"
    );
    let t = f.forge(|_, p| p["iat"] = json!(f.now.as_secs() + 3600));
    assert_eq!(f.check(&t), Err(VerifyError::NotYetValid));
    let t = f.forge(|_, p| p["nbf"] = json!(f.now.as_secs() + 3600));
    assert_eq!(f.check(&t), Err(VerifyError::NotYetValid));
}

#[test]
fn tampered_payload_fails_the_signature() {
    let f = fixture(SigningAlg::EdDSA);
    let t = f.genuine();
    let (_, mut p) = f.parts(&t);
    p["sub"] = json!(UserId::new().to_string());
    let mut parts: Vec<&str> = t.split('.').collect();
    let forged = B64.encode(p.to_string());
    parts[1] = &forged;
    assert_eq!(f.check(&parts.join(".")), Err(VerifyError::BadSignature));
}

#[test]
fn string_or_missing_claims_are_refused() {
    let f = fixture(SigningAlg::EdDSA);
    let t = f.forge(|_, p| p["exp"] = json!(p["exp"].to_string()));
    assert_eq!(f.check(&t), Err(VerifyError::InvalidClaims));
    for claim in ["exp", "sub", "jti", "sid", "ver", "client_id"] {
        let t = f.forge(|_, p| {
            p.as_object_mut().unwrap().remove(claim);
        });
        assert_eq!(f.check(&t), Err(VerifyError::InvalidClaims), "{claim}");
    }
}

#[test]
fn oversized_and_malformed_tokens_are_refused_without_panic() {
    let f = fixture(SigningAlg::EdDSA);
    let t = f.forge(|_, p| p["pad"] = json!("x".repeat(5000)));
    assert_eq!(f.check(&t), Err(VerifyError::Oversize));
    for bad in [
        "",
        ".",
        "..",
        "a.b",
        "a.b.c.d",
        "garbage.token.here",
        "!!!.!!!.!!!",
        "e30.e30.",
        "bnVsbA.e30.x",
    ] {
        assert!(f.check(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn token_from_another_key_ring_is_refused() {
    let a = fixture(SigningAlg::EdDSA);
    let b = fixture(SigningAlg::EdDSA);
    assert_eq!(a.check(&b.genuine()), Err(VerifyError::UnknownKey));
}
