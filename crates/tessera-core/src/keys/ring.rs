//! The key ring: which key signs, which keys verify, what the JWKS publishes.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;

use super::alg::SigningAlg;
use super::signer::JwsSigner;
use super::stored::{KeyError, StoredKey};
use crate::time::Timestamp;

/// Where a verifier finds the key for a token's `kid`. Implemented by [`KeyRing`] (the server)
/// and by a JWKS cache (resource servers), so both verify with the same rules.
pub trait VerificationKeys {
    /// The key with this `kid` and the one algorithm it may verify.
    fn find(&self, kid: &str) -> Option<(&DecodingKey, SigningAlg)>;
}

struct RingKey {
    stored: StoredKey,
    /// Parsed once; only the active key ever signs, but every key gets one so that a ring
    /// never holds a key it could not sign with.
    signer: JwsSigner,
    decoding: DecodingKey,
    public_jwk: Option<jsonwebtoken::jwk::Jwk>,
}

/// One active signing key plus retired keys kept for verification.
///
/// Invariant: exactly one key is active (the newest key without `retired_at`); a retired key
/// verifies (and is published) until `retired_at + retention`, where the retention is at least
/// the access-token lifetime plus leeway, so every token it signed has expired by then.
pub struct KeyRing {
    keys: Vec<RingKey>,
    active: usize,
    retention: Duration,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active_kid())
            .field(
                "kids",
                &self.keys.iter().map(|k| &k.stored.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl KeyRing {
    /// Builds the ring from stored keys. Keys retired more than `retention` before `now` are
    /// left out. Fails when no key is active or a key does not parse.
    pub fn new(
        stored: &[StoredKey],
        retention: Duration,
        now: Timestamp,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::with_capacity(stored.len());
        for s in stored {
            if s.retired_at.is_some_and(|r| r.plus(retention) <= now) {
                continue;
            }
            let loaded = s.load()?;
            keys.push(RingKey {
                stored: s.clone(),
                signer: JwsSigner::new(&loaded.encoding, s.alg)?,
                decoding: loaded.decoding,
                public_jwk: loaded.public_jwk,
            });
        }
        let active = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.stored.retired_at.is_none())
            .max_by_key(|(_, k)| k.stored.created_at)
            .map(|(i, _)| i)
            .ok_or(KeyError::NoActiveKey)?;
        Ok(Self {
            keys,
            active,
            retention,
        })
    }

    /// The `kid` of the key that signs new tokens.
    pub fn active_kid(&self) -> &str {
        self.keys
            .get(self.active)
            .map(|k| k.stored.kid.as_str())
            .unwrap_or("")
    }

    /// The active key's algorithm.
    pub fn active_alg(&self) -> SigningAlg {
        self.keys
            .get(self.active)
            .map(|k| k.stored.alg)
            .unwrap_or_default()
    }

    /// The key that signs new tokens, with its `kid` and algorithm.
    pub(crate) fn signing_key(&self) -> Option<(&JwsSigner, &str, SigningAlg)> {
        self.keys
            .get(self.active)
            .map(|k| (&k.signer, k.stored.kid.as_str(), k.stored.alg))
    }

    /// The JWKS: the public half of every key in the ring (never an HMAC key).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self
                .keys
                .iter()
                .filter_map(|k| k.public_jwk.clone())
                .collect(),
        }
    }

    /// How long a retired key is kept.
    pub fn retention(&self) -> Duration {
        self.retention
    }
}

impl VerificationKeys for KeyRing {
    fn find(&self, kid: &str) -> Option<(&DecodingKey, SigningAlg)> {
        self.keys
            .iter()
            .find(|k| k.stored.kid == kid)
            .map(|k| (&k.decoding, k.stored.alg))
    }
}

/// Rotation on the stored list: the active key is retired at `now`, a new key for `alg`
/// becomes active, and keys retired longer than `retention` ago are dropped. Returns the new
/// key's `kid`.
pub fn rotate(
    stored: &mut Vec<StoredKey>,
    alg: SigningAlg,
    retention: Duration,
    now: Timestamp,
) -> Result<String, KeyError> {
    let new = StoredKey::generate(alg, now)?;
    let kid = new.kid.clone();
    stored.retain(|k| k.retired_at.is_none_or(|r| r.plus(retention) > now));
    for k in stored.iter_mut() {
        if k.retired_at.is_none() {
            k.retired_at = Some(now);
        }
    }
    stored.push(new);
    Ok(kid)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KEEP: Duration = Duration::from_secs(900);

    #[test]
    fn every_algorithm_generates_loads_and_publishes_only_public_keys() {
        let now = Timestamp::from_secs(1_700_000_000);
        for alg in [
            SigningAlg::EdDSA,
            SigningAlg::ES256,
            SigningAlg::RS256,
            SigningAlg::HS256,
        ] {
            let key = StoredKey::generate(alg, now).unwrap();
            let ring = KeyRing::new(std::slice::from_ref(&key), KEEP, now).unwrap();
            assert_eq!(ring.active_kid(), key.kid);
            assert_eq!(ring.find(&key.kid).map(|(_, a)| a), Some(alg));
            let jwks = serde_json::to_value(ring.jwks()).unwrap();
            let published = jwks["keys"].as_array().unwrap();
            if alg == SigningAlg::HS256 {
                assert!(published.is_empty(), "HMAC secret must never be published");
            } else {
                assert_eq!(published.len(), 1);
                let jwk = &published[0];
                assert_eq!(jwk["kid"], key.kid.as_str());
                assert_eq!(jwk["alg"], alg.as_str());
                assert_eq!(jwk["use"], "sig");
                for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                    assert!(
                        jwk.get(private).is_none(),
                        "{alg}: private member {private} published"
                    );
                }
            }
        }
    }

    #[test]
    fn ed25519_jwk_is_okp() {
        let now = Timestamp::from_secs(1);
        let key = StoredKey::generate(SigningAlg::EdDSA, now).unwrap();
        let ring = KeyRing::new(&[key], KEEP, now).unwrap();
        let jwk = serde_json::to_value(&ring.jwks().keys[0]).unwrap();
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
    }

    #[test]
    fn rotation_keeps_old_key_for_retention_then_drops_it() {
        let t0 = Timestamp::from_secs(1_000);
        let mut stored = vec![StoredKey::generate(SigningAlg::EdDSA, t0).unwrap()];
        let old = stored[0].kid.clone();
        let t1 = t0.plus(Duration::from_secs(60));
        let new = rotate(&mut stored, SigningAlg::EdDSA, KEEP, t1).unwrap();
        let ring = KeyRing::new(&stored, KEEP, t1).unwrap();
        assert_eq!(ring.active_kid(), new);
        assert!(ring.find(&old).is_some(), "old key still verifies");
        assert_eq!(ring.jwks().keys.len(), 2);
        let later = t1.plus(KEEP);
        let ring = KeyRing::new(&stored, KEEP, later).unwrap();
        assert!(ring.find(&old).is_none(), "old key gone after retention");
        rotate(&mut stored, SigningAlg::EdDSA, KEEP, later).unwrap();
        assert_eq!(stored.len(), 2, "long-retired key dropped from the file");
    }

    #[test]
    fn a_configured_key_gets_the_same_kid_every_time_it_is_loaded() {
        let now = Timestamp::from_secs(1);
        for alg in [SigningAlg::EdDSA, SigningAlg::HS256] {
            let k = StoredKey::generate(alg, now).unwrap();
            let again = StoredKey::from_material(alg, k.material.clone(), now).unwrap();
            assert_eq!(k.kid, again.kid, "{alg}");
        }
    }

    #[test]
    fn ring_without_active_key_is_refused() {
        let t0 = Timestamp::from_secs(1_000);
        let mut k = StoredKey::generate(SigningAlg::EdDSA, t0).unwrap();
        k.retired_at = Some(t0);
        assert!(matches!(
            KeyRing::new(&[k], KEEP, t0),
            Err(KeyError::NoActiveKey)
        ));
    }

    #[test]
    fn wrong_material_for_algorithm_is_refused() {
        let now = Timestamp::from_secs(1);
        let ed = StoredKey::generate(SigningAlg::EdDSA, now).unwrap();
        let as_rsa = StoredKey {
            alg: SigningAlg::RS256,
            ..ed.clone()
        };
        assert!(KeyRing::new(&[as_rsa], KEEP, now).is_err());
        let as_hs = StoredKey {
            alg: SigningAlg::HS256,
            ..ed
        };
        assert!(KeyRing::new(&[as_hs], KEEP, now).is_err());
    }
}
