//! The validated runtime configuration, assembled from one parser per section.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use tessera_core::keys::SigningAlg;
use tessera_store::RevocationMode;

use super::browser::{Browser, TokenTransport};
use super::clients::{ClientCredential, Clients};
use super::durable::Durable;
use super::file::RawConfig;
use super::logging::{LogFormat, log_format};
use super::mail::Mail;
use super::master_key::{MasterKeySetting, master_key};
use super::mfa::Mfa;
use super::network::Network;
use super::revocation::{FailMode, Revocation};
use super::server::Server;
use super::sessions::Sessions;
use super::storage::{StateStoreSettings, Storage};
use super::tokens::Tokens;
use super::value::{InvalidSetting, invalid};
use crate::http::forwarded::TrustedProxies;

/// Everything the server needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// SQL database URL (secret: may hold a password).
    pub database_url: SecretString,
    /// State store.
    pub state_store: StateStoreSettings,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
    /// Signing algorithm for generated keys.
    pub signing_alg: SigningAlg,
    /// Configured PEM key, if any.
    pub signing_key_file: Option<PathBuf>,
    /// Access-token lifetime.
    pub access_token_ttl: Duration,
    /// Absolute session lifetime.
    pub refresh_token_ttl: Duration,
    /// Session idle timeout.
    pub session_idle_timeout: Duration,
    /// Refresh grace window (zero disables).
    pub refresh_reuse_grace: Duration,
    /// Revocation mode.
    pub revocation_mode: RevocationMode,
    /// Fail mode.
    pub fail_mode: FailMode,
    /// Session limit per user.
    pub max_sessions_per_user: Option<u32>,
    /// Admin bearer secret (at least 16 characters).
    pub admin_token: Option<SecretString>,
    /// Clients of the RFC 7662 / RFC 7009 endpoints.
    pub introspection_clients: Vec<ClientCredential>,
    /// Token transport.
    pub token_transport: TokenTransport,
    /// Fingerprint binding of access tokens (OWASP token sidejacking defence).
    pub fingerprint: bool,
    /// A durable SQL copy of sessions and revocations (`durable_sessions`, default on).
    pub durable_sessions: bool,
    /// The most a rotation waits before its durable copy is written (`durable_lag`).
    pub durable_lag: Duration,
    /// How long SQL keeps a security event (`security_event_retention`, default 365 days,
    /// at least the refresh-token lifetime: an operator acting on a session id finds its
    /// owner by the session's sign-in event).
    pub security_event_retention: Duration,
    /// How long a trusted device skips the second factor.
    pub trusted_device_ttl: Duration,
    /// How long a sign-in challenge waits for its second factor (1s–1h).
    pub mfa_challenge_ttl: Duration,
    /// Rate limiting on.
    pub rate_limit: bool,
    /// Log format.
    pub log_format: LogFormat,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// The longest a client may take to send a request's headers, idle keep-alive
    /// included (`header_read_timeout`).
    pub header_read_timeout: Duration,
    /// Concurrent password hashes.
    pub password_hash_concurrency: usize,
    /// SMTP server URL (secret: may hold a password); `None` writes mail to the outbox.
    pub smtp_url: Option<SecretString>,
    /// Sender of outgoing mail.
    pub mail_from: String,
    /// Front-end page that receives `?token=` from the reset mail.
    pub password_reset_url: String,
    /// Lifetime of a password-reset token.
    pub password_reset_ttl: Duration,
    /// Reverse proxies whose forwarding headers name the client (empty: headers ignored).
    pub trusted_proxies: TrustedProxies,
    /// Where the master key that seals the stored keys comes from.
    pub master_key: MasterKeySetting,
    /// The WebAuthn relying party of passkeys; `None`: passkeys are off (no usable default
    /// and none configured).
    pub webauthn: Option<super::webauthn::RelyingParty>,
    /// Federated sign-in (`[oauth]`).
    pub oauth: super::oauth::OAuthSettings,
    /// Settings that were given but whose feature is not built yet (warned about at start).
    pub not_implemented: Vec<&'static str>,
}

impl Settings {
    /// Validates a raw configuration, section by section; the first invalid setting is the
    /// error. `is_tty` picks the default log format. Reads nothing but the Redis CA file
    /// (to check it) and the number of CPUs: no connection is made.
    pub fn from_raw(raw: RawConfig, is_tty: bool) -> Result<Self, InvalidSetting> {
        let Server {
            listen,
            max_body_bytes,
            header_read_timeout,
            password_hash_concurrency,
        } = Server::from_raw(&raw)?;
        let Storage {
            data_dir,
            database_url,
            state_store,
        } = Storage::from_raw(&raw)?;
        let Tokens {
            issuer,
            audience,
            signing_alg,
            signing_key_file,
            access_token_ttl,
        } = Tokens::from_raw(&raw, listen)?;
        let Sessions {
            refresh_token_ttl,
            session_idle_timeout,
            refresh_reuse_grace,
            max_sessions_per_user,
        } = Sessions::from_raw(&raw)?;
        let Revocation {
            revocation_mode,
            fail_mode,
        } = Revocation::from_raw(&raw)?;
        let Durable {
            durable_sessions,
            durable_lag,
            security_event_retention,
        } = Durable::from_raw(&raw)?;
        // Unset: the default, or the refresh-token lifetime when that is longer (a setting
        // that started before the retention existed still starts).
        let security_event_retention = if raw.security_event_retention.is_none() {
            security_event_retention.max(refresh_token_ttl)
        } else {
            security_event_retention
        };
        if security_event_retention < refresh_token_ttl {
            return Err(invalid(
                "security_event_retention",
                "must be at least refresh_token_ttl (a session's owner is found by its sign-in event)",
            ));
        }
        let log_format = log_format(&raw, is_tty)?;
        let Browser {
            token_transport,
            fingerprint,
        } = Browser::from_raw(&raw)?;
        let Clients {
            admin_token,
            introspection_clients,
        } = Clients::from_raw(&raw)?;
        let Mail {
            smtp_url,
            mail_from,
            password_reset_url,
            password_reset_ttl,
        } = Mail::from_raw(&raw, &issuer)?;
        let Network {
            trusted_proxies,
            rate_limit,
        } = Network::from_raw(&raw)?;
        let Mfa {
            trusted_device_ttl,
            mfa_challenge_ttl,
        } = Mfa::from_raw(&raw)?;
        let master_key = master_key(&raw)?;
        let oauth = super::oauth::OAuthSettings::from_raw(raw.oauth.as_ref())?;
        let webauthn = super::webauthn::relying_party(&raw, &issuer)?;
        Ok(Settings {
            listen,
            data_dir,
            database_url,
            state_store,
            issuer,
            audience,
            signing_alg,
            signing_key_file,
            access_token_ttl,
            refresh_token_ttl,
            session_idle_timeout,
            refresh_reuse_grace,
            revocation_mode,
            fail_mode,
            max_sessions_per_user,
            admin_token,
            introspection_clients,
            token_transport,
            fingerprint,
            durable_sessions,
            durable_lag,
            security_event_retention,
            trusted_device_ttl,
            mfa_challenge_ttl,
            rate_limit,
            log_format,
            max_body_bytes,
            header_read_timeout,
            password_hash_concurrency,
            smtp_url,
            mail_from,
            password_reset_url,
            password_reset_ttl,
            trusted_proxies,
            master_key,
            oauth,
            webauthn,
            not_implemented: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests;
