//! How a passkey step fails.

/// Outcomes of the passkey ceremonies a client must be told about (mapped to a status and
/// a stable `code` in `http::error`).
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// The challenge id is unknown, expired, already used or another user's (400
    /// `invalid_challenge`).
    #[error("invalid challenge")]
    InvalidChallenge,
    /// The authenticator's registration answer failed a check (400 `invalid_credential`).
    #[error("invalid registration: {0}")]
    InvalidRegistration(String),
    /// The sign-in assertion failed a check, or names no known credential (401
    /// `invalid_credential`).
    #[error("invalid assertion")]
    InvalidAssertion,
    /// The signature counter did not grow: possibly a cloned authenticator (401
    /// `invalid_credential`; `passkey_cloned` is written).
    #[error("possible cloned authenticator")]
    PossibleClone,
    /// A name longer than 64 characters or with control characters (422 `invalid_name`).
    #[error("invalid name")]
    InvalidName,
    /// The user has [`super::MAX_PER_USER`] passkeys already (409 `too_many_passkeys`).
    #[error("too many passkeys")]
    TooMany,
    /// No such passkey of this user (404 `passkey_not_found`).
    #[error("passkey not found")]
    NotFound,
    /// Passkeys are off: no relying party is configured (503 `passkeys_unavailable`).
    #[error("passkeys unavailable")]
    Unavailable,
    /// Removing it would leave the account without a way to sign in (409
    /// `last_sign_in_method`).
    #[error("last sign-in method")]
    LastSignInMethod,
}
