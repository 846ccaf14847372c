//! Tokens whose signature and claims this process has already verified.
//!
//! An Ed25519 check costs ~50 µs, several times the rest of an authenticated request, and a
//! client presents the same access token many times during its 15 minutes. So, like the
//! guard, the server remembers what it verified:
//!
//! - keyed by the **SHA-256 of the exact token string**: a token that differs in any byte
//!   (a tampered signature, header or payload) is a different key and is fully verified;
//! - an entry is used only while `now < exp` (seconds, no leeway). Past `exp` the token goes
//!   through the full verifier again, which applies its leeway exactly as without the cache.
//!   `nbf` and `iat` only get more satisfied as time passes, so they need no re-check;
//! - an entry is tied to the key ring it was verified under: after a key-ring reload (a key
//!   rotated in or retired) it misses, so a token of a removed key is refused at once;
//! - bounded (quick_cache, [`CAPACITY`] entries, its own eviction policy).
//!
//! This replaces **only** the signature and claims check. The revocation check
//! (`StateStore::check_access`, one round trip) still runs on every request, so a revoked
//! token is refused on its next use whether or not it is cached.

use std::sync::{Arc, Weak};

use quick_cache::sync::Cache;
use sha2::{Digest, Sha256};
use tessera_core::keys::KeyRing;
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;

/// Most tokens remembered at once (each entry is the claims plus ~100 bytes).
pub const CAPACITY: usize = 100_000;

struct Entry {
    claims: AccessClaims,
    /// The ring the token was verified under; the `Weak` keeps its address from being
    /// reused while the entry lives, so a pointer comparison cannot be fooled.
    ring: Weak<KeyRing>,
}

/// The verified-token cache (see the module docs).
pub struct VerifiedTokens {
    entries: Cache<[u8; 32], Arc<Entry>>,
}

impl std::fmt::Debug for VerifiedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedTokens")
            .field("len", &self.entries.len())
            .finish()
    }
}

impl Default for VerifiedTokens {
    fn default() -> Self {
        Self::new(CAPACITY)
    }
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl VerifiedTokens {
    /// A cache of at most `capacity` tokens (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Cache::new(capacity.max(1)),
        }
    }

    /// The claims of `token` if it was verified under `ring` and `now` is before its `exp`.
    pub fn get(&self, ring: &Arc<KeyRing>, token: &str, now: Timestamp) -> Option<AccessClaims> {
        let k = key(token);
        let e = self.entries.get(&k)?;
        if now.as_secs() >= e.claims.exp || !std::ptr::eq(e.ring.as_ptr(), Arc::as_ptr(ring)) {
            self.entries.remove(&k);
            return None;
        }
        Some(e.claims.clone())
    }

    /// Remembers that `token` verified to `claims` under `ring` (call only after a
    /// successful verification of exactly this string).
    pub fn insert(&self, ring: &Arc<KeyRing>, token: &str, claims: &AccessClaims) {
        self.entries.insert(
            key(token),
            Arc::new(Entry {
                claims: claims.clone(),
                ring: Arc::downgrade(ring),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::time::Duration;

    use tessera_core::ids::{SessionId, UserId};
    use tessera_core::keys::{SigningAlg, StoredKey};
    use tessera_core::token::{TokenIssuer, TokenRequest, Verifier};

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
        let cache = VerifiedTokens::new(16);
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
        let cache = VerifiedTokens::new(16);
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
        let cache = VerifiedTokens::new(16);
        cache.insert(&old, &t, &verified(&old, &t, now));
        let reloaded = ring(now);
        assert!(cache.get(&reloaded, &t, now).is_none());
        assert!(
            cache.get(&old, &t, now).is_none(),
            "the stale entry was dropped"
        );
    }
}
