//! [`KeySet`]: the usable keys of a JWKS.

use std::collections::HashMap;
use std::fmt;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use tessera_core::keys::{SigningAlg, VerificationKeys};

/// The keys of a JWKS by `kid`, each pinned to the one algorithm it may verify.
///
/// A JWK is kept only when it has a `kid`, is not for encryption (`use` absent or `sig`),
/// and is an Ed25519 (`OKP`), P-256 (`EC`) or RSA public key whose `alg`, when present,
/// matches its type (EdDSA, ES256, RS256). Symmetric (`oct`) keys are never taken from a
/// JWKS; anything else is skipped and logged. Duplicate `kid`s: the first wins.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, (DecodingKey, SigningAlg)>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&String> = self.keys.keys().collect();
        kids.sort();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// The usable keys of `set` (see the type's rules).
    pub fn from_jwks(set: &JwkSet) -> Self {
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.as_deref() else {
                tracing::warn!("JWKS key without kid skipped");
                continue;
            };
            match usable(jwk) {
                Some(entry) => {
                    keys.entry(kid.to_owned()).or_insert(entry);
                }
                None => tracing::warn!(kid, "JWKS key skipped: not a usable signing key"),
            }
        }
        Self { keys }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when there is no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether a key with this `kid` is present.
    pub fn contains(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }
}

fn usable(jwk: &Jwk) -> Option<(DecodingKey, SigningAlg)> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            SigningAlg::EdDSA
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            SigningAlg::ES256
        }
        AlgorithmParameters::RSA(_) => SigningAlg::RS256,
        _ => return None,
    };
    let declared = match jwk.common.key_algorithm {
        None => by_type,
        Some(KeyAlgorithm::EdDSA) => SigningAlg::EdDSA,
        Some(KeyAlgorithm::ES256) => SigningAlg::ES256,
        Some(KeyAlgorithm::RS256) => SigningAlg::RS256,
        Some(_) => return None,
    };
    if declared != by_type {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some((key, by_type))
}

impl VerificationKeys for KeySet {
    fn find(&self, kid: &str) -> Option<(&DecodingKey, SigningAlg)> {
        self.keys.get(kid).map(|(k, a)| (k, *a))
    }
}
