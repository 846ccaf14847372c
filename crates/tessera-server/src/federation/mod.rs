//! Federated sign-in, the provider side: the configured OpenID Connect and OAuth 2.0
//! providers ([`Providers`]), who a provider says signed in ([`Identity`]), and the durable
//! links between provider accounts and users ([`identities::Identities`]).
//!
//! The flow itself (state, browser binding, one-time code, accounts) is
//! `auth::federated`; this module only talks to providers and stores links.

pub mod http;
pub mod identities;
pub mod provider;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::oauth::OAuthSettings;
pub use identities::{Identities, LinkedIdentity};
pub use provider::Provider;

/// Who a provider says signed in, after every check of its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable id of the account (`sub`).
    pub subject: String,
    /// The account's email, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider asserts that email is verified.
    pub email_verified: bool,
}

/// Talking to a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum FederationError {
    /// A provider setting cannot be used (a URL the client library refuses).
    #[error("provider configuration: {0}")]
    Config(String),
    /// The provider could not be reached, or answered something unusable.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code exchange (an OAuth error response).
    #[error("provider refused the code: {0}")]
    Refused(String),
    /// The ID token failed a check (signature, issuer, audience, nonce, expiry, algorithm).
    #[error("invalid ID token: {0}")]
    InvalidIdToken(String),
    /// The userinfo answer lacks what identifies the account.
    #[error("invalid identity: {0}")]
    InvalidIdentity(String),
}

/// The configured providers, by name.
#[derive(Clone, Debug, Default)]
pub struct Providers {
    by_name: BTreeMap<String, Arc<Provider>>,
}

impl Providers {
    /// The providers of `settings`, whose callbacks live under `issuer`.
    pub fn new(settings: &OAuthSettings, issuer: &str) -> Result<Self, FederationError> {
        let http = http::ProviderHttp::new().map_err(|e| FederationError::Config(e.to_string()))?;
        let mut by_name = BTreeMap::new();
        for p in &settings.providers {
            by_name.insert(
                p.name.clone(),
                Arc::new(Provider::new(p.clone(), issuer, http.clone())?),
            );
        }
        Ok(Self { by_name })
    }

    /// The provider called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Provider>> {
        self.by_name.get(name)
    }

    /// Every provider, by name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Provider>> {
        self.by_name.values()
    }
}
