//! Password hashing (Argon2id, OWASP parameters) and the strength policy.
//!
//! Hashing costs ~40 ms of CPU and 19 MiB: it runs on the blocking pool behind a semaphore,
//! so a burst of logins queues instead of starving the async runtime or exhausting memory.

use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

/// Shortest accepted password, in characters (NIST SP 800-63B allows 8; we ask a little more).
pub const MIN_LEN: usize = 10;
/// Longest accepted password, in bytes (bounds hashing work per request).
pub const MAX_LEN: usize = 256;

/// Why a password is refused at registration or change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Fewer than [`MIN_LEN`] characters.
    #[error("password must be at least {MIN_LEN} characters")]
    TooShort,
    /// More than [`MAX_LEN`] bytes.
    #[error("password must be at most {MAX_LEN} bytes")]
    TooLong,
    /// Guessable (zxcvbn score below 3): common words, keyboard walks, the email itself.
    #[error("password is too easy to guess")]
    Guessable,
}

/// Checks `password` against the policy; `user_inputs` (e.g. the email) count as known words.
pub fn check_strength(password: &str, user_inputs: &[&str]) -> Result<(), WeakPassword> {
    if password.len() > MAX_LEN {
        return Err(WeakPassword::TooLong);
    }
    if password.chars().count() < MIN_LEN {
        return Err(WeakPassword::TooShort);
    }
    let estimate = zxcvbn::zxcvbn(password, user_inputs);
    if (estimate.score() as u8) < 3 {
        return Err(WeakPassword::Guessable);
    }
    Ok(())
}

/// Hashing failed (parameters, or the blocking pool went away).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Argon2id hasher with bounded concurrency.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    params: Params,
    /// A real hash of a random password: verifying against it makes a login for an unknown
    /// email cost the same as one for a known email.
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// OWASP parameters: m = 19 MiB, t = 2, p = 1.
    pub fn new(concurrency: usize) -> Result<Self, HashError> {
        Self::with_params(concurrency, 19 * 1024, 2)
    }

    /// Custom cost (tests use a cheap one).
    pub fn with_params(concurrency: usize, m_kib: u32, t: u32) -> Result<Self, HashError> {
        let params = Params::new(m_kib, t, 1, None).map_err(|e| HashError(e.to_string()))?;
        let mut random = [0u8; 24];
        rand::fill(&mut random);
        let dummy = argon(&params)
            .hash_password(&random)
            .map_err(|e| HashError(e.to_string()))?
            .to_string();
        Ok(Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            params,
            dummy_hash: dummy.into(),
        })
    }

    /// Hashes `password` into a PHC string.
    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String, HashError> {
        let params = self.params.clone();
        self.run(move || {
            argon(&params)
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| HashError(e.to_string()))
        })
        .await?
    }

    /// Whether `password` matches `phc`; with `None`, checks against the dummy hash (always
    /// false, same cost).
    pub async fn verify(
        &self,
        password: Zeroizing<String>,
        phc: Option<String>,
    ) -> Result<bool, HashError> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy_hash.to_string());
        let params = self.params.clone();
        let ok = self
            .run(move || {
                argon(&params)
                    .verify_password(password.as_bytes(), phc.as_str())
                    .is_ok()
            })
            .await?;
        Ok(ok && known)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| HashError(e.to_string()))
    }
}

fn argon(params: &Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn weak_passwords_are_refused_and_a_passphrase_is_accepted() {
        assert_eq!(check_strength("abc", &[]), Err(WeakPassword::TooShort));
        assert_eq!(
            check_strength("password123", &[]),
            Err(WeakPassword::Guessable)
        );
        assert_eq!(
            check_strength("qwertyuiop", &[]),
            Err(WeakPassword::Guessable)
        );
        assert_eq!(
            check_strength(&"x".repeat(300), &[]),
            Err(WeakPassword::TooLong)
        );
        assert_eq!(
            check_strength("alice.smith@example.org", &["alice.smith@example.org"]),
            Err(WeakPassword::Guessable)
        );
        assert_eq!(
            check_strength("correct horse battery staple 9", &[]),
            Ok(())
        );
    }

    #[tokio::test]
    async fn hash_then_verify_and_unknown_user_never_matches() {
        let h = PasswordHasher::with_params(2, 1024, 1).unwrap();
        let phc = h
            .hash(Zeroizing::new("s3cret passphrase".into()))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(
            h.verify(
                Zeroizing::new("s3cret passphrase".into()),
                Some(phc.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !h.verify(Zeroizing::new("wrong".into()), Some(phc))
                .await
                .unwrap()
        );
        assert!(
            !h.verify(Zeroizing::new("anything".into()), None)
                .await
                .unwrap()
        );
    }
}
