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

use crate::device::ClientInfo;

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
    /// [`standing`] of the account when the password was checked. A challenge whose
    /// account no longer has it (the password was reset or changed, or every session was
    /// revoked since) is expired: the password that opened it is no longer good. A
    /// challenge without it (written before it existed) is expired too.
    #[serde(default)]
    pub standing: Option<String>,
    /// When the user has passkeys: the state that checks a passkey answer to this
    /// challenge (its options were sent with the challenge).
    #[serde(default)]
    pub passkey: Option<webauthn_rs::prelude::PasskeyAuthentication>,
}

/// A digest of what a pending challenge depends on: the password hash and the durable
/// token version (bumped by a reset, "sign out everywhere" and a ban's revocation).
pub fn standing(password_hash: &str, token_version: u64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"tessera/mfa-challenge-standing/v1");
    h.update(token_version.to_be_bytes());
    h.update(password_hash.as_bytes());
    URL_SAFE_NO_PAD.encode(h.finalize())
}

impl Challenge {
    /// Whether `user` still has the standing this challenge was opened with (constant
    /// time).
    pub fn still_holds_for(&self, user: &crate::accounts::User) -> bool {
        use subtle::ConstantTimeEq;
        let now = standing(&user.password_hash, user.token_version);
        self.standing
            .as_deref()
            .is_some_and(|then| bool::from(then.as_bytes().ct_eq(now.as_bytes())))
    }
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
