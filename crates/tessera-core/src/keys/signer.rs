//! A signing key parsed once, and the compact JWS it produces.
//!
//! `jsonwebtoken::encode` re-parses the private key from its DER bytes on every call: for
//! Ed25519 that derives the public key again (a second scalar multiplication per token), for
//! ES256 likewise, for RS256 it re-validates the whole RSA key. Tokens are signed on every
//! sign-in and every refresh, so the ring parses its active key once into a [`JwsSigner`],
//! which produces exactly what `jsonwebtoken::encode` would: `b64url(header JSON) "."
//! b64url(claims JSON) "." b64url(signature)`, without padding. Verification stays with
//! `jsonwebtoken` (and third-party verifiers in the interoperability tests).

use aws_lc_rs::hmac;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jsonwebtoken::errors::ErrorKind;
use serde::Serialize;

use super::alg::SigningAlg;
use super::stored::KeyError;

/// One parsed signing key (see the module docs).
pub(crate) enum JwsSigner {
    Ed25519(Ed25519KeyPair),
    Es256(EcdsaKeyPair),
    Rs256(RsaKeyPair),
    /// Boxed: an HMAC key holds its precomputed inner and outer states (over 1 KiB).
    Hs256(Box<hmac::Key>),
}

impl JwsSigner {
    /// Parses the key `jsonwebtoken` loaded for `alg` (PKCS#8 DER for EdDSA and ES256, PKCS#1
    /// DER for RS256, the raw secret for HS256 — what `EncodingKey::as_bytes` holds).
    pub(crate) fn new(key: &EncodingKey, alg: SigningAlg) -> Result<Self, KeyError> {
        let der = key.as_bytes();
        let invalid = |kind: ErrorKind| KeyError::Invalid {
            alg,
            source: kind.into(),
        };
        Ok(match alg {
            SigningAlg::EdDSA => Self::Ed25519(
                Ed25519KeyPair::from_pkcs8(der).map_err(|_| invalid(ErrorKind::InvalidEddsaKey))?,
            ),
            SigningAlg::ES256 => Self::Es256(
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                    .map_err(|_| invalid(ErrorKind::InvalidEcdsaKey))?,
            ),
            SigningAlg::RS256 => Self::Rs256(
                RsaKeyPair::from_der(der)
                    .map_err(|e| invalid(ErrorKind::InvalidRsaKey(e.to_string())))?,
            ),
            SigningAlg::HS256 => Self::Hs256(Box::new(hmac::Key::new(hmac::HMAC_SHA256, der))),
        })
    }

    /// The compact JWS of `header` and `claims`.
    pub(crate) fn sign_compact<H: Serialize, C: Serialize>(
        &self,
        alg: SigningAlg,
        header: &H,
        claims: &C,
    ) -> Result<String, KeyError> {
        let failed = |e: String| KeyError::Invalid {
            alg,
            source: ErrorKind::Signing(e).into(),
        };
        let mut out = b64_json(header).map_err(|e| failed(e.to_string()))?;
        out.push('.');
        out.push_str(&b64_json(claims).map_err(|e| failed(e.to_string()))?);
        let signature = self.sign(out.as_bytes()).map_err(failed)?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(out)
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, String> {
        match self {
            Self::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
            Self::Es256(k) => k
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| e.to_string()),
            Self::Rs256(k) => {
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
                    .map_err(|e| e.to_string())?;
                Ok(sig)
            }
            Self::Hs256(k) => Ok(hmac::sign(k, message).as_ref().to_vec()),
        }
    }
}

fn b64_json<T: Serialize>(value: &T) -> serde_json::Result<String> {
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(value)?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jsonwebtoken::{Header, Validation, decode, encode};
    use serde_json::{Value, json};

    use super::*;
    use crate::keys::stored::StoredKey;
    use crate::time::Timestamp;

    const ALL: [SigningAlg; 4] = [
        SigningAlg::EdDSA,
        SigningAlg::ES256,
        SigningAlg::RS256,
        SigningAlg::HS256,
    ];

    fn header(alg: SigningAlg) -> Header {
        let mut h = Header::new(alg.jwt());
        h.typ = Some("at+jwt".into());
        h.kid = Some("k1".into());
        h
    }

    fn claims() -> Value {
        json!({"sub": "u", "exp": 4_000_000_000u64, "amr": ["pwd"], "s": "ü\"\\"})
    }

    #[test]
    fn the_same_compact_jws_as_jsonwebtoken_where_signing_is_deterministic() {
        // Ed25519, RSA PKCS#1 v1.5 and HMAC signatures are deterministic: byte-for-byte equal.
        for alg in [SigningAlg::EdDSA, SigningAlg::RS256, SigningAlg::HS256] {
            let loaded = StoredKey::generate(alg, Timestamp::from_secs(1))
                .unwrap()
                .load()
                .unwrap();
            let ours = JwsSigner::new(&loaded.encoding, alg)
                .unwrap()
                .sign_compact(alg, &header(alg), &claims())
                .unwrap();
            let theirs = encode(&header(alg), &claims(), &loaded.encoding).unwrap();
            assert_eq!(ours, theirs, "{alg}");
        }
    }

    #[test]
    fn every_algorithm_verifies_with_jsonwebtoken_and_a_changed_byte_does_not() {
        for alg in ALL {
            let loaded = StoredKey::generate(alg, Timestamp::from_secs(1))
                .unwrap()
                .load()
                .unwrap();
            let token = JwsSigner::new(&loaded.encoding, alg)
                .unwrap()
                .sign_compact(alg, &header(alg), &claims())
                .unwrap();
            let mut v = Validation::new(alg.jwt());
            v.required_spec_claims.clear();
            v.validate_aud = false;
            let got = decode::<Value>(&token, &loaded.decoding, &v).unwrap();
            assert_eq!(got.claims, claims(), "{alg}");
            assert_eq!(got.header.kid.as_deref(), Some("k1"));
            // Flip one bit of the payload: the signature no longer matches.
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            let mut payload = URL_SAFE_NO_PAD.decode(&parts[1]).unwrap();
            payload[2] ^= 1;
            parts[1] = URL_SAFE_NO_PAD.encode(payload);
            assert!(
                decode::<Value>(&parts.join("."), &loaded.decoding, &v).is_err(),
                "{alg}"
            );
        }
    }

    #[test]
    fn a_key_of_another_algorithm_is_refused() {
        let ed = StoredKey::generate(SigningAlg::EdDSA, Timestamp::from_secs(1))
            .unwrap()
            .load()
            .unwrap();
        assert!(JwsSigner::new(&ed.encoding, SigningAlg::ES256).is_err());
        assert!(JwsSigner::new(&ed.encoding, SigningAlg::RS256).is_err());
    }
}
