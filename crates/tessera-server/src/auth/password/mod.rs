//! Password reset by mail (`/v1/password/forgot`, `/v1/password/reset`) and password change
//! (`/v1/password/change`).
//!
//! A reset token ([`ResetToken`]) is stored only as the name of a record in its user's scope,
//! `reset:<sha-256 hex>`, living `password_reset_ttl`; its value binds the token to the
//! password hash that was current when it was issued, so any later password change or reset
//! voids every token still outstanding. Consuming is one atomic `take`: of concurrent resets
//! with one token exactly one gets the record; the SQL update is a compare-and-set on the old
//! hash, so two different tokens cannot both win either.
//!
//! - [`reset`]: `forgot` (the mail) and `reset` (the new password with the mailed token).
//! - [`change`]: a signed-in user changing their password.
//! - [`reset_token`]: the mailed token.
//! - [`first_proof`]: what the first reset of an account whose email was never proven
//!   removes.
//!
//! Both unauthenticated routes take their rate-limit budget here, as sign-in does
//! (`limits::Limits::before_forgot`, `before_request`), not in the handler.

pub mod change;
pub mod first_proof;
pub mod reset;
pub mod reset_token;

use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tessera_store::EphemeralKey;
use tokio::sync::Semaphore;

use super::core::AuthCore;
use crate::accounts::User;
use crate::mail::Mailer;
use reset_token::ResetToken;

/// How many reset mails are sent at once (SMTP connections are not free).
const MAIL_CONCURRENCY: usize = 8;

/// Reset-by-mail settings.
#[derive(Clone, Debug)]
pub struct ResetPolicy {
    /// Front-end page; the mail links to `<url>?token=<token>`.
    pub url: String,
    /// Token lifetime.
    pub ttl: Duration,
}

/// Password reset and change: the auth core plus a mailer.
#[derive(Clone)]
pub struct Passwords {
    core: Arc<AuthCore>,
    mailer: Arc<Mailer>,
    policy: ResetPolicy,
    sending: Arc<Semaphore>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("mailer", &self.mailer)
            .field("ttl", &self.policy.ttl)
            .finish_non_exhaustive()
    }
}

/// What a stored reset record holds: a digest of the password hash current at issue.
fn binding(user: &User) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tessera/password-reset-binding/v1");
    h.update(user.password_hash.as_bytes());
    h.finalize().into()
}

fn record_key(token: &ResetToken) -> EphemeralKey {
    EphemeralKey::user(token.user(), format!("reset:{}", token.hash()))
}

impl Passwords {
    /// Over `core`, sending with `mailer`.
    pub fn new(core: Arc<AuthCore>, mailer: Arc<Mailer>, policy: ResetPolicy) -> Self {
        Self {
            core,
            mailer,
            policy,
            sending: Arc::new(Semaphore::new(MAIL_CONCURRENCY)),
        }
    }
}
