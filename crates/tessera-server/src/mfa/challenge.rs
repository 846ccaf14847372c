//! The pending second step of a sign-in.
//!
//! After a correct password on an account with a second factor, the state store holds a
//! challenge for 5 minutes (`mfa_challenge_ttl`) under a random 128-bit id. Attempts are counted atomically (at most
//! 5, the window does not slide); a correct code *takes* the challenge, so of two concurrent
//! completions exactly one opens a session.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tessera_core::ids::UserId;
use tessera_store::EphemeralKey;

use crate::auth::ClientInfo;

/// How long a challenge lives by default (`mfa_challenge_ttl`).
pub const TTL: Duration = Duration::from_secs(300);
/// Wrong codes allowed per challenge.
pub const MAX_ATTEMPTS: u32 = 5;

/// What the challenge remembers of the sign-in it completes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Challenge {
    /// Who signed in with a correct password.
    pub user: UserId,
    /// The device facts of that request.
    pub client: ClientInfo,
    /// Whether the device should become trusted once the second factor is given.
    pub trust_device: bool,
}

/// A challenge id: 22 base64url characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeId(String);

impl ChallengeId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let mut b = [0u8; 16];
        rand::fill(&mut b);
        Self(URL_SAFE_NO_PAD.encode(b))
    }

    /// A client-sent id, if it has the right shape (never touches the store otherwise).
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 22
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(s.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the challenge is stored.
    pub fn key(&self) -> EphemeralKey {
        EphemeralKey::tag(format!("c:{}", self.0), "mfa")
    }

    /// Where its attempts are counted.
    pub fn attempts_key(&self) -> EphemeralKey {
        EphemeralKey::tag(format!("c:{}", self.0), "att")
    }
}
