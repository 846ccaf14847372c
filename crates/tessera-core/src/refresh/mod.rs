//! Refresh tokens: opaque, 256-bit random, never JWTs.
//!
//! A refresh token carries its routing ids in clear so the state store can find its record
//! without any global index:
//!
//! ```text
//! tsr_<base64url( user id (16 bytes) ‖ session id (16 bytes) ‖ secret (32 bytes) )>
//! ```
//!
//! Only [`RefreshToken::hash`] is ever stored. A rotation's successor is *derived*
//! ([`RefreshToken::successor`]) from the presented token, a server-side [`RefreshKey`] and a
//! random [`SuccessorSeed`] kept with the session, so a replay inside the grace window can be
//! given the very same successor again without the store ever holding a usable token.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ids::{SessionId, UserId};

const PREFIX: &str = "tsr_";
const RAW_LEN: usize = 16 + 16 + 32;
/// Longest string [`RefreshToken::parse`] looks at; anything longer is refused unread.
pub const MAX_ENCODED_LEN: usize = 128;

/// Why a string is not a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefreshTokenError {
    /// Missing the `tsr_` prefix, wrong length or not base64url.
    #[error("malformed refresh token")]
    Malformed,
}

/// SHA-256 of a token's bytes: what the store keeps instead of the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// 16 random bytes stored with a session at each rotation; with the presented token and the
/// [`RefreshKey`] they determine the successor token.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SuccessorSeed(pub [u8; 16]);

impl SuccessorSeed {
    /// A fresh random seed.
    pub fn random() -> Self {
        let mut b = [0u8; 16];
        rand::fill(&mut b);
        Self(b)
    }
}

/// The server-side secret that successor derivation is keyed with. Every Tessera instance
/// behind one state store must hold the same key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RefreshKey([u8; 32]);

impl RefreshKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        Self(b)
    }

    /// From stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key, for persisting it.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RefreshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshKey(..)")
    }
}

/// An opaque refresh token.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct RefreshToken {
    #[zeroize(skip)]
    user: UserId,
    #[zeroize(skip)]
    session: SessionId,
    secret: [u8; 32],
}

impl RefreshToken {
    /// A new token with a fresh 256-bit secret.
    pub fn generate(user: UserId, session: SessionId) -> Self {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        Self {
            user,
            session,
            secret,
        }
    }

    /// Parses the wire form. Never panics; refuses anything that is not exactly a token.
    pub fn parse(s: &str) -> Result<Self, RefreshTokenError> {
        if s.len() > MAX_ENCODED_LEN {
            return Err(RefreshTokenError::Malformed);
        }
        let body = s.strip_prefix(PREFIX).ok_or(RefreshTokenError::Malformed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| RefreshTokenError::Malformed)?;
        if raw.len() != RAW_LEN {
            return Err(RefreshTokenError::Malformed);
        }
        let mut user = [0u8; 16];
        let mut session = [0u8; 16];
        let mut secret = [0u8; 32];
        user.copy_from_slice(&raw[..16]);
        session.copy_from_slice(&raw[16..32]);
        secret.copy_from_slice(&raw[32..]);
        Ok(Self {
            user: UserId::from_bytes(user),
            session: SessionId::from_bytes(session),
            secret,
        })
    }

    /// The wire form handed to the client.
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(self.user.as_bytes());
        raw.extend_from_slice(self.session.as_bytes());
        raw.extend_from_slice(&self.secret);
        let s = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw));
        raw.zeroize();
        s
    }

    /// The user this token belongs to (routing only: not authenticated until the store
    /// matched the hash).
    pub fn user(&self) -> UserId {
        self.user
    }

    /// The session (refresh family) this token belongs to.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// What the store keeps: SHA-256 over ids and secret, so a hash is bound to its session.
    pub fn hash(&self) -> TokenHash {
        let mut h = Sha256::new();
        h.update(self.user.as_bytes());
        h.update(self.session.as_bytes());
        h.update(self.secret);
        TokenHash(h.finalize().into())
    }

    /// The token that replaces this one when it is rotated with `seed`. Deterministic: the same
    /// token, key and seed always give the same successor.
    pub fn successor(&self, key: &RefreshKey, seed: &SuccessorSeed) -> RefreshToken {
        // HMAC accepts keys of any length, so this cannot fail; fall back to a random secret
        // (which only costs idempotency) rather than panic.
        let secret = match <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0) {
            Ok(mut mac) => {
                mac.update(b"tessera/refresh-successor/v1");
                mac.update(self.user.as_bytes());
                mac.update(self.session.as_bytes());
                mac.update(&self.secret);
                mac.update(&seed.0);
                mac.finalize().into_bytes().into()
            }
            Err(_) => return RefreshToken::generate(self.user, self.session),
        };
        Self {
            user: self.user,
            session: self.session,
            secret,
        }
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("user", &self.user)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_parse_round_trip_keeps_ids_and_hash() {
        let t = RefreshToken::generate(UserId::new(), SessionId::new());
        let s = t.encode();
        assert!(s.starts_with("tsr_"));
        assert_eq!(s.matches('.').count(), 0, "never looks like a JWT");
        let back = RefreshToken::parse(&s).unwrap();
        assert_eq!(back.user(), t.user());
        assert_eq!(back.session(), t.session());
        assert!(back.hash().ct_eq(&t.hash()));
    }

    #[test]
    fn malformed_inputs_are_refused_without_panic() {
        let ok = RefreshToken::generate(UserId::new(), SessionId::new()).encode();
        for bad in [
            "",
            "tsr_",
            "tsr_abc",
            "xyz_AAAA",
            &ok[4..],
            &ok[..ok.len() - 1],
            &format!("{ok}A"),
            &format!("tsr_{}", "A".repeat(500)),
            "tsr_!!!!",
            "tsr_ünïcödé",
        ] {
            assert_eq!(
                RefreshToken::parse(bad),
                Err(RefreshTokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn successor_is_deterministic_per_seed_and_key() {
        let t = RefreshToken::generate(UserId::new(), SessionId::new());
        let k = RefreshKey::generate();
        let seed = SuccessorSeed::random();
        let a = t.successor(&k, &seed);
        assert_eq!(a.encode(), t.successor(&k, &seed).encode());
        assert_ne!(a.encode(), t.encode());
        assert_ne!(
            a.encode(),
            t.successor(&k, &SuccessorSeed::random()).encode()
        );
        assert_ne!(
            a.encode(),
            t.successor(&RefreshKey::generate(), &seed).encode()
        );
        assert_eq!(a.session(), t.session());
    }

    #[test]
    fn hash_binds_the_session() {
        let t = RefreshToken::generate(UserId::new(), SessionId::new());
        let mut other = t.clone();
        other.session = SessionId::new();
        assert!(!t.hash().ct_eq(&other.hash()));
    }
}
