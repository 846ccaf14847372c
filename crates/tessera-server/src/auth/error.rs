//! Outcomes of the auth flows that are not success.

use tessera_core::token::VerifyError;
use tessera_store::StoreError;

use crate::accounts::DbError;
use crate::accounts::password::{HashError, WeakPassword};

/// Every way a sign-in or token flow can fail. The HTTP layer maps each to one status and
/// one stable `code` (see `http::error`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Registration with an email that has an account.
    #[error("email taken")]
    EmailTaken,
    /// Not a plausible email address.
    #[error("invalid email")]
    InvalidEmail,
    /// Password refused by the policy.
    #[error(transparent)]
    WeakPassword(#[from] WeakPassword),
    /// Unknown email or wrong password: deliberately one outcome.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The account is banned.
    #[error("account disabled")]
    AccountDisabled,
    /// No bearer token.
    #[error("missing token")]
    MissingToken,
    /// The token failed verification.
    #[error("invalid token: {0}")]
    InvalidToken(VerifyError),
    /// The token is past `exp`.
    #[error("token expired")]
    TokenExpired,
    /// Fingerprint binding is on and the request's cookie does not match the token.
    #[error("fingerprint mismatch")]
    FingerprintMismatch,
    /// No live session with this id belongs to the caller.
    #[error("session not found")]
    SessionNotFound,
    /// No live access token with this id belongs to the caller.
    #[error("token not found")]
    TokenNotFound,
    /// A wrong second-factor code; `attempts_left` on a sign-in challenge.
    #[error("invalid code")]
    InvalidCode {
        /// Attempts left on the challenge, when there is one.
        attempts_left: Option<u32>,
    },
    /// The sign-in challenge is unknown, expired, exhausted or already completed.
    #[error("challenge expired")]
    ChallengeExpired,
    /// The challenge's attempts are used up.
    #[error("too many attempts")]
    TooManyAttempts,
    /// TOTP is already confirmed for this account.
    #[error("mfa already enabled")]
    MfaAlreadyEnabled,
    /// No (pending or confirmed) TOTP enrolment to act on.
    #[error("mfa not enabled")]
    MfaNotEnabled,
    /// The account has a second factor, and this step (adding a credential that signs in
    /// without it) needs its code as well as the password.
    #[error("second factor required")]
    SecondFactorRequired,
    /// A confirmed second factor exists but cannot be evaluated (sealed with another data key,
    /// or corrupt): the sign-in is refused, never let through without it.
    #[error("second factor cannot be evaluated: {0}")]
    MfaUnavailable(#[source] crate::mfa::Unreadable),
    /// No trusted device with this id belongs to the caller.
    #[error("device not found")]
    DeviceNotFound,
    /// Over a rate limit or locked out for now.
    #[error("rate limited")]
    RateLimited {
        /// When to try again.
        retry_after: std::time::Duration,
    },
    /// No user with this id.
    #[error("user not found")]
    UserNotFound,
    /// The token verified but its session, version or jti is revoked.
    #[error("token revoked")]
    TokenRevoked,
    /// Unknown, malformed or dead refresh token.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// A refresh token replayed outside the grace window: the session is now revoked.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// Unknown, malformed, expired or used password-reset token.
    #[error("invalid reset token")]
    InvalidResetToken,
    /// OAuth client authentication failed (`/oauth2/*`): no, unknown or wrong credentials.
    #[error("invalid client")]
    InvalidClient,
    /// A passkey step failed.
    #[error(transparent)]
    Passkey(#[from] super::passkeys::PasskeyError),
    /// A federated sign-in step failed.
    #[error(transparent)]
    Federated(#[from] super::federated::FederatedError),
    /// The state store is unreachable.
    #[error("state store unavailable")]
    StateStore(#[source] StoreError),
    /// The database failed.
    #[error("database")]
    Database(#[from] DbError),
    /// Something that should not happen (key ring empty, hashing pool gone).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<crate::limits::LimitError> for AuthError {
    fn from(e: crate::limits::LimitError) -> Self {
        match e {
            crate::limits::LimitError::Limited(l) => AuthError::RateLimited {
                retry_after: l.retry_after,
            },
            crate::limits::LimitError::Store(s) => AuthError::StateStore(s),
        }
    }
}

impl From<crate::mfa::MfaError> for AuthError {
    fn from(e: crate::mfa::MfaError) -> Self {
        match e {
            crate::mfa::MfaError::Db(d) => AuthError::Database(d),
            crate::mfa::MfaError::Unreadable(u) => AuthError::MfaUnavailable(u),
        }
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::StateStore(e)
    }
}

impl From<HashError> for AuthError {
    fn from(e: HashError) -> Self {
        AuthError::Internal(e.to_string())
    }
}

impl From<VerifyError> for AuthError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::Expired => AuthError::TokenExpired,
            other => AuthError::InvalidToken(other),
        }
    }
}
