//! What the state store holds between the steps of a federated sign-in. Every record is
//! JSON under a key made from the SHA-256 of its secret, and is *taken* (read and deleted
//! in one step) by the step that consumes it, so each is used at most once.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tessera_core::ids::UserId;
use tessera_store::EphemeralKey;

use super::secrets::Secret;
use crate::device::ClientInfo;

/// How long the app has to exchange its one-time code.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// How long a link ticket waits for its browser to come to `authorize`.
pub const LINK_TTL: Duration = Duration::from_secs(300);

/// A sign-in sent to a provider, under its `state`, for `oauth.state_ttl` (10 minutes by
/// default).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The provider it was sent to.
    pub provider: String,
    /// PKCE verifier.
    pub verifier: String,
    /// OIDC nonce.
    pub nonce: String,
    /// Allow-listed URL to return to.
    pub return_to: String,
    /// Digest of the browser-binding cookie.
    pub browser: String,
    /// Set when this flow links an identity to a signed-in user instead of signing in.
    pub link: Option<LinkTarget>,
}

/// Whom a link flow links to, and the account's standing when the link was asked for: a
/// password reset, change or "sign out everywhere" in between voids it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkTarget {
    /// The user.
    pub user: UserId,
    /// `mfa::challenge::standing` then.
    pub standing: String,
}

/// A finished provider step waiting for the app's exchange, under the one-time code.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Handoff {
    /// Who signed in.
    pub user: UserId,
    /// Through which provider.
    pub provider: String,
    /// The device of the callback request.
    pub client: ClientInfo,
    /// Digest of the browser-binding cookie.
    pub browser: String,
    /// The account's standing then (`mfa::challenge::standing`): a reset, change or
    /// "sign out everywhere" in between voids the code.
    pub standing: String,
}

/// A signed-in user's request to link a provider account, under its ticket. Usable only
/// at that provider's `authorize` and only by the browser that asked (its binding cookie):
/// a ticket handed to someone else cannot plant their provider account in this user's.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkTicket {
    /// Who asked, and their standing then.
    pub target: LinkTarget,
    /// For which provider.
    pub provider: String,
    /// Digest of the binding cookie of the browser that asked.
    pub browser: String,
}

/// Key of the [`Pending`] record of `state`.
pub fn pending_key(state: &Secret) -> EphemeralKey {
    EphemeralKey::tag(format!("os:{}", state.digest()), "oauth")
}

/// Key of the [`Handoff`] record of a one-time code.
pub fn handoff_key(code: &Secret) -> EphemeralKey {
    EphemeralKey::tag(format!("oc:{}", code.digest()), "oauth")
}

/// Key of the [`LinkTicket`] of a ticket.
pub fn link_key(ticket: &Secret) -> EphemeralKey {
    EphemeralKey::tag(format!("ol:{}", ticket.digest()), "oauth")
}
