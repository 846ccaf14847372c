//! Signing algorithms.

use std::fmt;
use std::str::FromStr;

use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

/// The algorithms Tessera can sign access tokens with. EdDSA (Ed25519) is the default.
/// HS256 is for deployments where no third party verifies tokens: an HMAC key is never
/// published in the JWKS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum SigningAlg {
    /// Ed25519 (`kty: OKP`, `crv: Ed25519`).
    #[default]
    EdDSA,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (2048-bit keys when generated).
    RS256,
    /// HMAC-SHA-256 with a 256-bit secret.
    HS256,
}

impl SigningAlg {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::EdDSA => "EdDSA",
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
            SigningAlg::HS256 => "HS256",
        }
    }

    /// The jsonwebtoken algorithm.
    pub fn jwt(self) -> Algorithm {
        match self {
            SigningAlg::EdDSA => Algorithm::EdDSA,
            SigningAlg::ES256 => Algorithm::ES256,
            SigningAlg::RS256 => Algorithm::RS256,
            SigningAlg::HS256 => Algorithm::HS256,
        }
    }

    /// Whether the public half may be published (every algorithm but HS256).
    pub fn is_asymmetric(self) -> bool {
        !matches!(self, SigningAlg::HS256)
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no supported algorithm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported signing algorithm {0:?}: expected EdDSA, ES256, RS256 or HS256")]
pub struct UnknownAlg(pub String);

impl FromStr for SigningAlg {
    type Err = UnknownAlg;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "EdDSA" | "eddsa" | "Ed25519" | "ed25519" => Ok(SigningAlg::EdDSA),
            "ES256" | "es256" => Ok(SigningAlg::ES256),
            "RS256" | "rs256" => Ok(SigningAlg::RS256),
            "HS256" | "hs256" => Ok(SigningAlg::HS256),
            other => Err(UnknownAlg(other.to_owned())),
        }
    }
}
