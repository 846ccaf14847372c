//! [`SessionPolicy`]: the configured rules every auth service applies.

use std::time::Duration;

use tessera_store::RevocationMode;

use super::fingerprint::Fingerprinting;
use crate::config::FailMode;

/// Session and revocation policy (from configuration).
#[derive(Clone, Debug)]
pub struct SessionPolicy {
    /// Absolute session lifetime.
    pub absolute_lifetime: Duration,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// Refresh grace window (zero disables).
    pub reuse_grace: Duration,
    /// Session limit per user.
    pub max_sessions: Option<u32>,
    /// Revocation mode.
    pub revocation_mode: RevocationMode,
    /// Behaviour when the state store is down.
    pub fail_mode: FailMode,
    /// The longest clock-skew leeway any verifier of these tokens allows (this server's, and
    /// every guard's, which may be up to `MAX_LEEWAY`). The store keeps an access grant this
    /// much past the token's `exp`, so a token a verifier still accepts is not reported
    /// revoked (and a denylisted one stays denied) while its leeway runs.
    pub clock_leeway: Duration,
    /// Fingerprint binding (`__Secure-Fgp`): every decision about it goes through this.
    pub fingerprint: Fingerprinting,
    /// How long a trusted device skips the second factor.
    pub trusted_device_ttl: Duration,
    /// Issuer label in `otpauth://` URIs (what authenticator apps show).
    pub totp_issuer: String,
    /// How long a sign-in challenge waits for its second factor.
    pub mfa_challenge_ttl: Duration,
}
