//! Sign-in and tokens: the domain behind `/v1/auth/*`, `/v1/me`, `/v1/sessions`, `/v1/mfa/*`,
//! `/v1/password/*`, `/v1/admin/*`, `/oauth2/*` and the operator CLI.
//!
//! Services, each found by what it does (and exposed by name on [`crate::app::App`]):
//! - [`sign_in`]: [`SignInService`] — register, the password step, the second step,
//!   refresh, logout; opening a session and the checks against the account's standing.
//! - [`access`]: [`AccessService`] — authenticating an access token (the `Authenticated`
//!   extractor), RFC 7662 introspection, the session-bound CSRF token, the `/v1/me` profile.
//! - [`sessions`]: [`SessionService`] — listing sessions, ending one, revoking one access
//!   token (for the user, an operator and RFC 7009 alike), RFC 7009 revocation, the user's
//!   security events.
//! - [`second_factor`]: [`SecondFactorService`] — TOTP enrolment, confirmation and removal;
//!   trusted devices.
//! - [`password`]: [`Passwords`] — reset by mail and change.
//! - [`admin`]: [`AdminService`] — the admin API and the CLI: users and their sessions,
//!   revocations, bans, statistics, second-factor reset.
//!
//! Shared by all of them:
//! - [`core`]: [`AuthCore`], the parts every service is built on, and the steps several take
//!   (signing an access token, the grant the store tracks, recording a revocation, revoking
//!   every session of a user, the password and code proofs under the sign-in budgets).
//! - [`policy`]: [`SessionPolicy`], the configured rules.
//! - [`fingerprint`]: binding tokens to a hardened cookie; [`Fingerprinting`] makes every
//!   decision about it.
//! - [`error`]: [`AuthError`], one variant per outcome a client must be told about.
//! - [`pair`]: [`TokenPair`], what a sign-in or refresh hands out.
//!
//! What a request tells about the device is [`crate::device::ClientInfo`].

pub mod access;
pub mod admin;
pub mod core;
pub mod error;
pub mod federated;
pub mod fingerprint;
pub mod pair;
pub mod passkeys;
pub mod password;
pub mod policy;
pub mod second_factor;
pub mod sessions;
pub mod sign_in;

use std::sync::Arc;

pub use self::core::AuthCore;
pub use access::AccessService;
pub use admin::AdminService;
pub use error::AuthError;
pub use federated::FederatedSignIn;
pub use fingerprint::{Fingerprint, Fingerprinting};
pub use pair::TokenPair;
pub use passkeys::{PasskeyCheck, PasskeyService};
pub use password::Passwords;
pub use policy::SessionPolicy;
pub use second_factor::SecondFactorService;
pub use sessions::SessionService;
pub use sign_in::SignInService;

use crate::mail::Mailer;
use password::ResetPolicy;

/// Every auth service, over one [`AuthCore`].
#[derive(Clone, Debug)]
pub struct AuthServices {
    /// Register, sign in, refresh, sign out.
    pub sign_in: SignInService,
    /// Authenticating access tokens, introspection, CSRF, the profile.
    pub access: AccessService,
    /// Sessions and access tokens.
    pub sessions: SessionService,
    /// TOTP and trusted devices.
    pub second_factor: SecondFactorService,
    /// Password reset and change.
    pub passwords: Passwords,
    /// Operator actions.
    pub admin: AdminService,
    /// Sign-in through external providers; linked identities.
    pub federated: FederatedSignIn,
    /// Passkeys: registering, signing in, listing, removing.
    pub passkeys: PasskeyService,
}

/// What federated sign-in is built from.
#[derive(Debug)]
pub struct Federation {
    /// The configured providers.
    pub providers: crate::federation::Providers,
    /// The `[oauth]` settings.
    pub settings: crate::config::oauth::OAuthSettings,
    /// This server's public base URL.
    pub issuer: String,
    /// The WebAuthn relying party (passkeys); `None`: passkeys are off.
    pub webauthn: Option<Arc<webauthn_rs::Webauthn>>,
}

impl AuthServices {
    /// Builds every service over `core`; password-reset mail goes through `mailer`.
    pub fn new(
        core: AuthCore,
        mailer: Arc<Mailer>,
        reset: ResetPolicy,
        federation: Federation,
    ) -> Self {
        let core = Arc::new(core);
        let second_factor = SecondFactorService::new(Arc::clone(&core));
        let sessions = SessionService::new(Arc::clone(&core));
        let check = PasskeyCheck::new(
            federation.webauthn.clone(),
            crate::accounts::passkeys::Passkeys::new(core.users.database().clone()),
        );
        let sign_in = SignInService::new(Arc::clone(&core), second_factor.clone(), check.clone());
        let federated = FederatedSignIn::new(
            Arc::clone(&core),
            sign_in.clone(),
            federation.providers,
            federation.settings,
            federation.issuer,
        );
        let passkeys = PasskeyService::new(Arc::clone(&core), sign_in.clone(), check);
        Self {
            sign_in,
            passkeys,
            access: AccessService::new(Arc::clone(&core)),
            admin: AdminService::new(Arc::clone(&core), sessions.clone()),
            passwords: Passwords::new(core, mailer, reset),
            sessions,
            second_factor,
            federated,
        }
    }
}
