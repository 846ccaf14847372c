//! Tokens whose signature and claims were already verified: one cache, used by the server
//! (`AccessService`) and by the guard (`tessera-guard`), so that a repeated presentation of a
//! token skips the signature check in both.
//!
//! An Ed25519 check costs ~50 µs, several times the rest of an authenticated request, and a
//! client presents the same access token many times during its 15 minutes. The rules:
//!
//! - keyed by the **SHA-256 of the exact token string**: a token that differs in any byte
//!   (a tampered signature, header or payload) is a different key and is fully verified;
//! - an entry is used only while `now < exp` (seconds, no leeway). Past `exp` the token goes
//!   through the full verifier again, which applies its leeway exactly as without the cache.
//!   `nbf` and `iat` only get more satisfied as time passes, so they need no re-check;
//! - an entry is tied to the key set it was verified under (the server's key ring, the
//!   guard's JWKS snapshot or static keys): when that set is replaced (a key rotated in or
//!   retired, a JWKS refetch) the entry misses, so a token of a removed key is refused at
//!   once. The set is compared by address, and the entry holds a `Weak` to it so that the
//!   address cannot be reused while the entry lives;
//! - bounded (quick_cache, [`CAPACITY`] entries by default, its own eviction policy).
//!
//! This replaces **only** the signature and claims check. The revocation check (the state
//! store's `check_access`, or the guard's near-cache kept by revocation notices) still runs
//! on every request, so a revoked token is refused whether or not it is cached here.

use std::sync::{Arc, Weak};

use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};

use crate::keys::VerificationKeys;
use crate::time::Timestamp;
use crate::token::{AccessClaims, Verifier, VerifyError};

/// Most tokens remembered at once by default (each entry is the claims plus ~100 bytes).
pub const CAPACITY: usize = 100_000;

struct Entry<K: ?Sized> {
    claims: AccessClaims,
    /// The key set the token was verified under.
    keys: Weak<K>,
}

/// The verified-token cache over key sets of type `K` (see the module docs).
pub struct VerifiedTokens<K: ?Sized> {
    entries: Cache<[u8; 32], Arc<Entry<K>>>,
}

impl<K: ?Sized> std::fmt::Debug for VerifiedTokens<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("len", &self.entries.len())
            .finish()
    }
}

impl<K: ?Sized> Default for VerifiedTokens<K> {
    fn default() -> Self {
        Self::new(CAPACITY)
    }
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl<K: ?Sized> VerifiedTokens<K> {
    /// A cache of at most `capacity` tokens (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
        }
    }

    /// The claims of `token` if it was verified under `keys` (the same allocation) and `now`
    /// is before its `exp`.
    pub fn get(&self, keys: &Arc<K>, token: &str, now: Timestamp) -> Option<AccessClaims> {
        let k = key(token);
        let e = self.entries.get(&k)?;
        // By address only: a `dyn` key set's vtable pointer may differ between two
        // references to one allocation.
        if now.as_secs() >= e.claims.exp || !std::ptr::addr_eq(e.keys.as_ptr(), Arc::as_ptr(keys)) {
            self.entries.remove(&k);
            return None;
        }
        Some(e.claims.clone())
    }

    /// Remembers that `token` verified to `claims` under `keys` (call only after a successful
    /// verification of exactly this string under exactly this set).
    pub fn insert(&self, keys: &Arc<K>, token: &str, claims: &AccessClaims) {
        self.entries.insert(
            key(token),
            Arc::new(Entry {
                claims: claims.clone(),
                keys: Arc::downgrade(keys),
            }),
        );
    }

    /// Number of remembered tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.len() == 0
    }
}

impl<K: VerificationKeys + ?Sized> VerifiedTokens<K> {
    /// `token` checked by `verifier` under `keys`: from the cache when this exact string was
    /// verified under this very set before its `exp`, otherwise by the verifier, and then
    /// remembered. The one way the server and the guard verify an access token.
    pub fn verify(
        &self,
        verifier: &Verifier,
        keys: &Arc<K>,
        token: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, VerifyError> {
        if let Some(claims) = self.get(keys, token, now) {
            return Ok(claims);
        }
        let claims = verifier.verify(&**keys, token, now)?;
        self.insert(keys, token, &claims);
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use crate::ids::{SessionId, UserId};
    use crate::keys::{KeyRing, SigningAlg, StoredKey, VerificationKeys};
    use crate::token::{TokenIssuer, TokenRequest, Verifier};

    use super::*;

    fn ring(now: Timestamp) -> Arc<KeyRing> {
        let stored = StoredKey::generate(SigningAlg::EdDSA, now).unwrap();
        Arc::new(KeyRing::new(&[stored], Duration::from_secs(900), now).unwrap())
    }

    fn token(ring: &KeyRing, now: Timestamp) -> String {
        let issuer = TokenIssuer {
            issuer: "https://auth.test".into(),
            audience: "tessera".into(),
            client_id: "tessera".into(),
            ttl: Duration::from_secs(900),
        };
        let (jti, exp) = issuer.grant(now);
        let req = TokenRequest {
            user: UserId::new(),
            session: SessionId::new(),
            token_version: 0,
            amr: vec!["pwd".into()],
            fingerprint_hash: None,
        };
        issuer.sign(ring, req, jti, exp, now).unwrap().token
    }

    fn verified(ring: &KeyRing, token: &str, now: Timestamp) -> AccessClaims {
        Verifier::new("https://auth.test", "tessera")
            .verify(ring, token, now)
            .unwrap()
    }

    #[test]
    fn a_verified_token_hits_until_its_exp() {
        let now = Timestamp::from_secs(1_800_000_000);
        let ring = ring(now);
        let t = token(&ring, now);
        let claims = verified(&ring, &t, now);
        let cache = VerifiedTokens::<KeyRing>::new(16);
        assert!(cache.get(&ring, &t, now).is_none());
        cache.insert(&ring, &t, &claims);
        assert_eq!(cache.get(&ring, &t, now), Some(claims.clone()));
        let last = Timestamp::from_secs(claims.exp - 1);
        assert_eq!(cache.get(&ring, &t, last), Some(claims.clone()));
        // At exp the entry is gone: the full verifier (and its leeway) decides again.
        assert!(
            cache
                .get(&ring, &t, Timestamp::from_secs(claims.exp))
                .is_none()
        );
        assert!(cache.get(&ring, &t, now).is_none());
    }

    #[test]
    fn a_token_differing_in_any_byte_never_hits() {
        let now = Timestamp::from_secs(1_800_000_000);
        let ring = ring(now);
        let t = token(&ring, now);
        let cache = VerifiedTokens::<KeyRing>::new(16);
        cache.insert(&ring, &t, &verified(&ring, &t, now));
        let bytes = t.as_bytes();
        for i in [0, bytes.len() / 2, bytes.len() - 1] {
            let mut forged = bytes.to_vec();
            forged[i] = if forged[i] == b'A' { b'B' } else { b'A' };
            let forged = String::from_utf8(forged).unwrap();
            assert!(cache.get(&ring, &forged, now).is_none(), "byte {i}");
        }
        assert!(cache.get(&ring, &format!("{t}x"), now).is_none());
        assert!(cache.get(&ring, &t[..t.len() - 1], now).is_none());
        assert!(cache.get(&ring, &t, now).is_some());
    }

    #[test]
    fn a_key_ring_reload_invalidates_entries() {
        let now = Timestamp::from_secs(1_800_000_000);
        let old = ring(now);
        let t = token(&old, now);
        let cache = VerifiedTokens::<KeyRing>::new(16);
        cache.insert(&old, &t, &verified(&old, &t, now));
        let reloaded = ring(now);
        assert!(cache.get(&reloaded, &t, now).is_none());
        assert!(
            cache.get(&old, &t, now).is_none(),
            "the stale entry was dropped"
        );
    }

    #[test]
    fn a_dyn_key_set_is_the_same_set_through_any_reference() {
        let now = Timestamp::from_secs(1_800_000_000);
        let ring = ring(now);
        let t = token(&ring, now);
        let claims = verified(&ring, &t, now);
        let keys: Arc<dyn VerificationKeys + Send + Sync> = ring.clone();
        let cache = VerifiedTokens::<dyn VerificationKeys + Send + Sync>::new(16);
        cache.insert(&keys, &t, &claims);
        let again: Arc<dyn VerificationKeys + Send + Sync> = ring;
        assert_eq!(cache.get(&again, &t, now), Some(claims));
        let other: Arc<dyn VerificationKeys + Send + Sync> = self::ring(now);
        assert!(cache.get(&other, &t, now).is_none());
    }
}
