//! Schemas of answers that are one of several shapes, which no single Rust type of a handler
//! names. Each variant is the type the handler serialises.

use utoipa::ToSchema;

use crate::auth::TokenPair;
use crate::auth::sign_in::MfaRequired;

/// The answer to a first factor (a password, a passkey, a federated sign-in's code): the
/// tokens, or the second-factor challenge (`POST /v1/auth/mfa` completes it).
#[allow(dead_code)] // Described, never built: the handler serialises the variant itself.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum SignInAnswer {
    /// Signed in.
    Tokens(TokenPair),
    /// A second factor is due.
    Mfa(MfaRequired),
}
