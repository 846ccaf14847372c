//! Password-reset tokens: opaque, 256-bit random, single use.
//!
//! Like a refresh token, a reset token carries its routing id in clear so the state store can
//! find its record without any global index:
//!
//! ```text
//! tsp_<base64url( user id (16 bytes) ‖ secret (32 bytes) )>
//! ```
//!
//! Only [`ResetToken::hash`] (SHA-256 over id and secret) is stored, as the *name* of a
//! record in the user's scope. Finding the record is the comparison: a lookup keyed by a
//! SHA-256 digest reveals nothing usable about the secret through timing (a guess must hit
//! a preimage), and the record's value is compared in constant time.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tessera_core::ids::UserId;
use zeroize::{Zeroize, ZeroizeOnDrop};

const PREFIX: &str = "tsp_";
const RAW_LEN: usize = 16 + 32;
/// Longest string [`ResetToken::parse`] looks at; anything longer is refused unread.
pub const MAX_ENCODED_LEN: usize = 128;

/// Why a string is not a reset token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed reset token")]
pub struct MalformedResetToken;

/// An opaque password-reset token.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct ResetToken {
    #[zeroize(skip)]
    user: UserId,
    secret: [u8; 32],
}

impl fmt::Debug for ResetToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResetToken")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl ResetToken {
    /// A new token for `user` with a fresh 256-bit secret.
    pub fn generate(user: UserId) -> Self {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        Self { user, secret }
    }

    /// Parses the wire form. Never panics; refuses anything that is not exactly a token.
    pub fn parse(s: &str) -> Result<Self, MalformedResetToken> {
        if s.len() > MAX_ENCODED_LEN {
            return Err(MalformedResetToken);
        }
        let body = s.strip_prefix(PREFIX).ok_or(MalformedResetToken)?;
        let mut raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| MalformedResetToken)?;
        if raw.len() != RAW_LEN {
            raw.zeroize();
            return Err(MalformedResetToken);
        }
        let mut user = [0u8; 16];
        let mut secret = [0u8; 32];
        user.copy_from_slice(&raw[..16]);
        secret.copy_from_slice(&raw[16..]);
        raw.zeroize();
        Ok(Self {
            user: UserId::from_bytes(user),
            secret,
        })
    }

    /// The wire form mailed to the user.
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(self.user.as_bytes());
        raw.extend_from_slice(&self.secret);
        let s = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw));
        raw.zeroize();
        s
    }

    /// The user this token claims to belong to (routing only: not authenticated until the
    /// store holds a record under [`ResetToken::hash`] in that user's scope).
    pub fn user(&self) -> UserId {
        self.user
    }

    /// What the store keeps: SHA-256 over id and secret, lower-case hex. The id is part of
    /// the hash, so a token whose id was changed names a record that does not exist.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"tessera/password-reset/v1");
        h.update(self.user.as_bytes());
        h.update(self.secret);
        hex(&h.finalize())
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_and_refuses_everything_else() {
        let t = ResetToken::generate(UserId::new());
        let s = t.encode();
        assert!(s.starts_with("tsp_"));
        assert_eq!(s.len(), 4 + 64);
        let back = ResetToken::parse(&s).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.hash(), t.hash());
        assert_eq!(t.hash().len(), 64);
        for bad in [
            "",
            "tsp_",
            "tsr_abc",
            &s[..s.len() - 1],
            &format!("{s}A"),
            &s.replace("tsp_", "tsx_"),
            &"A".repeat(500),
            "tsp_!!!!",
        ] {
            assert!(ResetToken::parse(bad).is_err(), "{bad:?}");
        }
        assert!(!format!("{t:?}").contains(&s[4..]));
    }

    #[test]
    fn another_user_id_gives_another_hash() {
        let t = ResetToken::generate(UserId::new());
        let mut forged = t.clone();
        forged.user = UserId::new();
        assert_ne!(t.hash(), forged.hash());
        assert_ne!(
            ResetToken::generate(t.user()).hash(),
            t.hash(),
            "fresh secret"
        );
    }
}
