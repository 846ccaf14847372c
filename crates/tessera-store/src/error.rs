//! Store errors: what failed, and the cause underneath.
//!
//! Each variant's own message says only what kind of failure it is; the cause (a driver
//! error, a reply that made no sense, the Redis version found) is its
//! [`source`](std::error::Error::source). Print the chain (`{:#}` with anyhow, or walk
//! `source()`) to see both.

use crate::redis::{TlsCaError, TooOld};

/// Why a state-store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or did not answer in time. Callers answer 503 and must
    /// not assume anything about the state (fail closed unless configured otherwise).
    #[error("state store unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store answered something this code does not understand (corrupt record, script
    /// protocol mismatch, a script error), or a request broke the store's own rules (an
    /// ephemeral name too long, a rate without burst). A bug or tampering, never user input.
    #[error("state store protocol error")]
    Protocol(#[source] ProtocolError),
    /// The configuration cannot work (no URL, a key prefix with `{`/`}`, a URL the driver
    /// refuses, an unusable TLS CA file). Found when connecting, never on a later call. Not
    /// [`is_permanent`](Self::is_permanent): like an unreachable Redis, it is retried in the
    /// background by [`ConnectingStore`](crate::redis::ConnectingStore) (the behaviour from
    /// before this variant existed, when it was reported as unavailable).
    #[error("state store misconfigured")]
    Misconfigured(#[source] ConfigError),
    /// The store can never work with this Tessera (a Redis older than the scripts need).
    /// Permanent: retrying does not help, so start-up fails with this message.
    #[error("state store cannot be used")]
    Incompatible(#[source] TooOld),
}

impl StoreError {
    /// True when the store was unreachable (as opposed to answering nonsense).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// True when the call was refused by the open circuit breaker without reaching Redis
    /// (`redis::BreakerOpen`): every call fails alike until the probe closes it, so callers
    /// log such failures once per opening (the breaker does), not per request.
    pub fn is_breaker_open(&self) -> bool {
        matches!(self, StoreError::Unavailable(cause) if cause.is::<crate::redis::BreakerOpen>())
    }

    /// True when this is the failure of a revocation that did take effect where it was
    /// written (its script revoked something live) but could not be confirmed to survive
    /// a failover ([`RevokedUnconfirmed`]). Answered as unavailable all the same; a caller
    /// keeping a copy of the state deletes what was revoked.
    pub fn revoked_unconfirmed(&self) -> bool {
        matches!(self, StoreError::Unavailable(cause) if cause.is::<RevokedUnconfirmed>())
    }

    /// True when retrying cannot help ([`StoreError::Incompatible`]).
    pub fn is_permanent(&self) -> bool {
        matches!(self, StoreError::Incompatible(_))
    }

    /// This error and its causes, `: `-separated, for logs and messages (the error's own text
    /// says only "unavailable", "protocol error"…; the causes say why: refused,
    /// authentication failed, the script's error). Driver errors never contain the password
    /// of the URL.
    pub fn chain(&self) -> String {
        chain_of(self)
    }
}

/// The cause of a [`StoreError::Unavailable`] for a revocation that took effect on the
/// Redis master but that its promotable replicas did not acknowledge (or the master
/// switched meanwhile): see [`StoreError::revoked_unconfirmed`].
#[derive(Debug, thiserror::Error)]
#[error("the revocation took effect on the Redis master")]
pub struct RevokedUnconfirmed(#[source] pub Box<dyn std::error::Error + Send + Sync>);

/// `e` and its causes, `: `-separated: one log field for any error (see
/// [`StoreError::chain`]).
pub fn chain_of(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The cause of a [`StoreError::Protocol`].
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    /// A reply or a stored record without the documented shape.
    #[error("{0}")]
    Malformed(String),
    /// A request the store's rules refuse before anything is written (see
    /// [`crate::ephemeral`]: name limits, a rate's burst).
    #[error("{0}")]
    Refused(String),
    /// Redis (or the driver) reported an error that is not about reachability: a script
    /// error (e.g. `count_attempt` on a record that is not a counter), a reply of the wrong
    /// type.
    #[error("redis reported an error")]
    Redis(#[source] redis::RedisError),
}

impl From<&str> for ProtocolError {
    /// A [`ProtocolError::Malformed`] with this description.
    fn from(what: &str) -> Self {
        ProtocolError::Malformed(what.to_owned())
    }
}

impl From<String> for ProtocolError {
    /// A [`ProtocolError::Malformed`] with this description.
    fn from(what: String) -> Self {
        ProtocolError::Malformed(what)
    }
}

/// The cause of a [`StoreError::Misconfigured`]: why a Redis configuration cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A rule the configuration breaks: no URL, several URLs for a standalone or Sentinel
    /// server, a key prefix with `{` or `}`, Sentinel URLs for a Cluster, a malformed
    /// `redis+sentinel://` URL. The text says which and never holds a password.
    #[error("invalid redis configuration: {0}")]
    Invalid(String),
    /// The TLS CA file cannot be used (the cause names the file).
    #[error("invalid redis configuration")]
    TlsCa(#[source] TlsCaError),
    /// The driver refused the URL or the client settings.
    #[error("invalid redis configuration")]
    Client(#[source] redis::RedisError),
}
