//! How a federated sign-in step fails.

use crate::federation::FederationError;

/// Outcomes of the federated flow a client must be told about (mapped to a status and a
/// stable `code` in `http::error`).
#[derive(Debug, thiserror::Error)]
pub enum FederatedError {
    /// No provider of that name is configured (404 `unknown_provider`).
    #[error("unknown provider")]
    UnknownProvider,
    /// `return_to` is missing or not allow-listed (400 `invalid_return_url`).
    #[error("return URL not allowed")]
    InvalidReturnUrl,
    /// The `state` is unknown, expired, used, from another browser or another provider, or
    /// the link ticket is (400 `invalid_state`).
    #[error("invalid state")]
    InvalidState,
    /// The provider answered with an error, or refused the code (400 `oauth_denied`).
    #[error("provider denied the sign-in: {0}")]
    Denied(String),
    /// The ID token or the userinfo answer failed a check (401 `invalid_id_token`).
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
    /// The provider could not be reached (502 `provider_unavailable`).
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// An account has this email, and this identity may not sign in to it (409
    /// `account_exists`).
    #[error("account exists")]
    AccountExists,
    /// A new account needs an email the provider asserts is verified (400
    /// `email_unverified`).
    #[error("email missing or unverified")]
    EmailUnverified,
    /// The one-time code is unknown, expired, used or from another browser (400
    /// `invalid_code`).
    #[error("invalid code")]
    InvalidCode,
    /// This provider account is linked to another user, or this user has an account of this
    /// provider linked already (409 `identity_in_use`).
    #[error("identity in use")]
    IdentityInUse,
    /// No such identity linked (404 `identity_not_found`).
    #[error("identity not found")]
    IdentityNotFound,
    /// Unlinking would leave the account without a way to sign in (409
    /// `last_sign_in_method`).
    #[error("last sign-in method")]
    LastSignInMethod,
}

impl From<FederationError> for FederatedError {
    fn from(e: FederationError) -> Self {
        match e {
            FederationError::Refused(why) => FederatedError::Denied(why),
            FederationError::InvalidIdToken(why) | FederationError::InvalidIdentity(why) => {
                FederatedError::InvalidIdToken(why)
            }
            FederationError::Config(why) | FederationError::Unavailable(why) => {
                FederatedError::Unavailable(why)
            }
        }
    }
}
