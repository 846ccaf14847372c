//! [`SignInService`]: how a user gets and gives up tokens.
//!
//! - [`register`]: creating an account (`POST /v1/auth/register`).
//! - [`login`]: the password step (`POST /v1/auth/login`).
//! - [`second_step`]: what follows a correct password — tokens, or a challenge completed with
//!   a second-factor code (`POST /v1/auth/mfa`).
//! - [`open`]: opening a session and minting its first token pair (the one way a session
//!   starts).
//! - [`standing`]: sign-in and refresh re-checked against the account's durable state
//!   (ban, password, token version), closing the race with a ban or password reset.
//! - [`refresh`]: rotating a refresh token (`POST /v1/auth/refresh`).
//! - [`logout`]: ending the caller's session or all of them.

pub mod login;
pub mod logout;
pub mod open;
pub mod refresh;
pub mod register;
pub mod second_step;
pub mod standing;

use std::sync::Arc;

use super::core::AuthCore;
use super::error::AuthError;
use super::fingerprint::Fingerprinting;
use super::second_factor::SecondFactorService;
use crate::app_metrics::LoginResult;

pub use second_step::{Completed, MfaProof, MfaRequired, SignIn};

/// Registration, sign-in (both steps), refresh and sign-out.
#[derive(Clone, Debug)]
pub struct SignInService {
    core: Arc<AuthCore>,
    /// Trusted devices let a sign-in skip the second step.
    second_factor: SecondFactorService,
    /// A passkey can answer the second step.
    passkeys: super::passkeys::PasskeyCheck,
}

impl SignInService {
    /// Over `core`.
    pub fn new(
        core: Arc<AuthCore>,
        second_factor: SecondFactorService,
        passkeys: super::passkeys::PasskeyCheck,
    ) -> Self {
        Self {
            core,
            second_factor,
            passkeys,
        }
    }

    /// The fingerprint binding a sign-in applies (the handler sets its cookie).
    pub fn fingerprinting(&self) -> Fingerprinting {
        self.core.policy.fingerprint
    }

    /// Counts a sign-in step's outcome in `tessera_logins_total`. Store, database and
    /// internal errors are not sign-in results: they show as 5xx in the HTTP metrics.
    fn count_login<T>(&self, result: &Result<T, AuthError>, ok: LoginResult) {
        let counted = match result {
            Ok(_) => Some(ok),
            Err(
                AuthError::InvalidCredentials
                | AuthError::AccountDisabled
                | AuthError::InvalidCode { .. }
                | AuthError::ChallengeExpired,
            ) => Some(LoginResult::Failure),
            Err(AuthError::RateLimited { .. } | AuthError::TooManyAttempts) => {
                Some(LoginResult::Limited)
            }
            Err(_) => None,
        };
        if let Some(r) = counted {
            self.core.metrics.login(r);
        }
    }
}
