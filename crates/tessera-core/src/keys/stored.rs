//! Keys as persisted, and key generation.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::alg::SigningAlg;
use crate::time::Timestamp;

/// Why a key could not be generated or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The cryptographic library refused to generate a key.
    #[error("key generation failed for {0}")]
    Generation(SigningAlg),
    /// The PEM or secret does not hold a usable key for the algorithm.
    #[error("invalid {alg} key: {source}")]
    Invalid {
        /// Algorithm the key was meant for.
        alg: SigningAlg,
        /// Cause.
        #[source]
        source: jsonwebtoken::errors::Error,
    },
    /// An HMAC secret shorter than 256 bits, or not base64url.
    #[error("HS256 secret must be at least 32 bytes of base64url")]
    WeakSecret,
    /// A key ring with no usable signing key.
    #[error("no active signing key")]
    NoActiveKey,
}

/// The secret half of a key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(rename_all = "snake_case")]
pub enum KeyMaterial {
    /// PKCS#8 `PRIVATE KEY` PEM (EdDSA, ES256, RS256).
    PrivateKeyPem(String),
    /// Base64url HMAC secret (HS256).
    HmacSecret(String),
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(redacted)")
    }
}

/// A key as written to the key file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    /// Key id (`kid`): the RFC 7638 thumbprint for public keys, random for HMAC keys.
    pub kid: String,
    /// Algorithm the key signs with; verification is pinned to it.
    pub alg: SigningAlg,
    /// When the key was made.
    pub created_at: Timestamp,
    /// When it stopped signing; `None` for the active key.
    pub retired_at: Option<Timestamp>,
    /// The secret.
    pub material: KeyMaterial,
}

impl StoredKey {
    /// A fresh key for `alg`, with its `kid` computed.
    pub fn generate(alg: SigningAlg, now: Timestamp) -> Result<Self, KeyError> {
        let material = match alg {
            SigningAlg::EdDSA => {
                let kp = Ed25519KeyPair::generate().map_err(|_| KeyError::Generation(alg))?;
                let der = kp.to_pkcs8v1().map_err(|_| KeyError::Generation(alg))?;
                KeyMaterial::PrivateKeyPem(pkcs8_pem(der.as_ref()))
            }
            SigningAlg::ES256 => {
                let kp = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| KeyError::Generation(alg))?;
                let der = kp.to_pkcs8v1().map_err(|_| KeyError::Generation(alg))?;
                KeyMaterial::PrivateKeyPem(pkcs8_pem(der.as_ref()))
            }
            SigningAlg::RS256 => {
                let kp = aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| KeyError::Generation(alg))?;
                let der = kp.as_der().map_err(|_| KeyError::Generation(alg))?;
                KeyMaterial::PrivateKeyPem(pkcs8_pem(der.as_ref()))
            }
            SigningAlg::HS256 => {
                let mut secret = [0u8; 32];
                rand::fill(&mut secret);
                let s = URL_SAFE_NO_PAD.encode(secret);
                secret.zeroize();
                KeyMaterial::HmacSecret(s)
            }
        };
        Self::from_material(alg, material, now)
    }

    /// Wraps existing key material (a configured PEM file or secret), computing its `kid`.
    pub fn from_material(
        alg: SigningAlg,
        material: KeyMaterial,
        now: Timestamp,
    ) -> Result<Self, KeyError> {
        let mut key = StoredKey {
            kid: String::new(),
            alg,
            created_at: now,
            retired_at: None,
            material,
        };
        let loaded = key.load()?;
        key.kid = match &loaded.public_jwk {
            Some(jwk) => jwk
                .thumbprint(ThumbprintHash::SHA256)
                .map_err(|source| KeyError::Invalid { alg, source })?,
            // An HMAC key is never published, and its kid must not depend on anything but the
            // secret (so every instance loading the same secret agrees): a labelled hash.
            None => {
                let KeyMaterial::HmacSecret(secret) = &key.material else {
                    return Err(KeyError::WeakSecret);
                };
                let mut h = Sha256::new();
                h.update(b"tessera/hs256-kid/v1");
                h.update(secret.trim().as_bytes());
                format!("hs-{}", &URL_SAFE_NO_PAD.encode(h.finalize())[..22])
            }
        };
        Ok(key)
    }

    /// Parses the material into usable keys.
    pub(crate) fn load(&self) -> Result<LoadedKey, KeyError> {
        let alg = self.alg;
        let invalid = |source| KeyError::Invalid { alg, source };
        let encoding = match (&self.material, alg) {
            (KeyMaterial::HmacSecret(s), SigningAlg::HS256) => {
                let mut raw = URL_SAFE_NO_PAD
                    .decode(s.trim())
                    .map_err(|_| KeyError::WeakSecret)?;
                if raw.len() < 32 {
                    raw.zeroize();
                    return Err(KeyError::WeakSecret);
                }
                let k = EncodingKey::from_secret(&raw);
                raw.zeroize();
                k
            }
            (KeyMaterial::PrivateKeyPem(pem), SigningAlg::EdDSA) => {
                EncodingKey::from_ed_pem(pem.as_bytes()).map_err(invalid)?
            }
            (KeyMaterial::PrivateKeyPem(pem), SigningAlg::ES256) => {
                EncodingKey::from_ec_pem(pem.as_bytes()).map_err(invalid)?
            }
            (KeyMaterial::PrivateKeyPem(pem), SigningAlg::RS256) => {
                EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(invalid)?
            }
            _ => {
                return Err(invalid(
                    jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into(),
                ));
            }
        };
        let (decoding, public_jwk) = if alg.is_asymmetric() {
            let mut jwk = Jwk::from_encoding_key(&encoding, alg.jwt()).map_err(invalid)?;
            jwk.common.key_id = (!self.kid.is_empty()).then(|| self.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            let decoding = DecodingKey::from_jwk(&jwk).map_err(invalid)?;
            (decoding, Some(jwk))
        } else {
            (DecodingKey::from_secret(encoding.as_bytes()), None)
        };
        Ok(LoadedKey {
            encoding,
            decoding,
            public_jwk,
        })
    }
}

/// Parsed key material.
pub(crate) struct LoadedKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    /// `None` for HMAC keys, which are never published.
    pub(crate) public_jwk: Option<Jwk>,
}

fn pkcs8_pem(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()))
}
