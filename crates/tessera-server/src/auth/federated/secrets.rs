//! The random values of a federated sign-in: `state`, the browser-binding cookie, the
//! one-time code handed to the app and the ticket that starts a link. Each is 256 bits in
//! base64url (43 characters); the state store keeps only a SHA-256 of it in its key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of every such value.
pub const LEN: usize = 43;

/// A 256-bit random value in base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// A fresh one.
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        Self(URL_SAFE_NO_PAD.encode(b))
    }

    /// A client-sent value, if it has the shape of one (never touches the store otherwise).
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == LEN
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(s.to_owned()))
    }

    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the value, base64url: what is stored or used in a key.
    pub fn digest(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.0.as_bytes()))
    }

    /// Whether `digest` is this value's [`digest`](Self::digest) (constant time).
    pub fn matches(&self, digest: &str) -> bool {
        bool::from(self.digest().as_bytes().ct_eq(digest.as_bytes()))
    }
}
