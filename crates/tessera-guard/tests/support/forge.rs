//! Forged tokens: a genuine token's header and payload edited, then signed with the real
//! private key (or another key), as in tessera-core's verifier tests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;
use tessera_core::keys::KeyMaterial;

use super::Issuer;

pub fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let h = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    let p = serde_json::from_slice(&B64.decode(it.next().unwrap()).unwrap()).unwrap();
    (h, p)
}

fn encoding_key(issuer: &Issuer) -> EncodingKey {
    let active = issuer
        .stored
        .iter()
        .rfind(|k| k.retired_at.is_none())
        .unwrap();
    match &active.material {
        KeyMaterial::PrivateKeyPem(pem) => EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
        KeyMaterial::HmacSecret(_) => unreachable!("tests sign with EdDSA"),
    }
}

/// `header.payload.signature` with `key` and `alg`.
pub fn sign_with(header: &Value, payload: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let msg = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(payload.to_string())
    );
    let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), key, alg).unwrap();
    format!("{msg}.{sig}")
}

/// Edits `genuine`'s header and payload, then signs properly with the issuer's key.
pub fn forge(issuer: &Issuer, genuine: &str, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
    let (mut h, mut p) = parts(genuine);
    edit(&mut h, &mut p);
    sign_with(&h, &p, &encoding_key(issuer), Algorithm::EdDSA)
}
