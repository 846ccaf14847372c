//! The validated runtime configuration.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use tessera_core::keys::SigningAlg;
use tessera_store::RevocationMode;

use super::file::RawConfig;

/// Behaviour when the state store cannot be reached during a revocation check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// Refuse with 503 (default): a revoked token is never accepted.
    Closed,
    /// Accept a token whose signature and claims verify; logged as a warning each time.
    Open,
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// How token pairs travel to the client (API.md "Browser clients").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenTransport {
    /// JSON body only (default).
    Body,
    /// Hardened cookies only; token strings left out of the body.
    Cookie,
    /// Both.
    Both,
}

impl TokenTransport {
    /// Whether cookies are set.
    pub fn cookies(self) -> bool {
        matches!(self, TokenTransport::Cookie | TokenTransport::Both)
    }

    /// Whether tokens appear in JSON bodies.
    pub fn body(self) -> bool {
        matches!(self, TokenTransport::Body | TokenTransport::Both)
    }
}

/// Shortest accepted `client_secret` of an introspection client, in characters: a secret a
/// person can remember is one an attacker can guess, so it must be a generated one
/// (e.g. `openssl rand -base64 32`).
pub const MIN_CLIENT_SECRET: usize = 32;

/// A client allowed to call `/oauth2/introspect` and `/oauth2/revoke`.
#[derive(Clone)]
pub struct ClientCredential {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: SecretString,
}

impl fmt::Debug for ClientCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredential")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Where token and session state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StateStoreSettings {
    /// In-process memory (the embedded default; single instance only).
    Memory,
    /// Redis standalone or Sentinel (`cluster: false`, one `redis://`, `rediss://` or
    /// `redis+sentinel://` URL) or Cluster (seed URLs).
    Redis {
        /// Connection URLs (may hold passwords: never logged).
        urls: Vec<String>,
        /// Cluster mode.
        cluster: bool,
        /// CA file trusted by `rediss://` connections instead of the system roots (checked
        /// to be readable and to hold a PEM certificate).
        ca_file: Option<PathBuf>,
        /// Prefix of every key and of the revocation channel (`redis_key_prefix`).
        key_prefix: String,
    },
}

impl fmt::Debug for StateStoreSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateStoreSettings::Memory => f.write_str("Memory"),
            StateStoreSettings::Redis {
                urls,
                cluster,
                ca_file,
                key_prefix,
            } => f
                .debug_struct("Redis")
                .field("nodes", &urls.len())
                .field("cluster", cluster)
                .field("ca_file", ca_file)
                .field("key_prefix", key_prefix)
                .finish_non_exhaustive(),
        }
    }
}

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
    /// Settings that were given but whose feature is not built yet (warned about at start).
    pub not_implemented: Vec<&'static str>,
}

/// A setting with a value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {key}: {reason}")]
pub struct InvalidSetting {
    /// The key (TOML name).
    pub key: &'static str,
    /// What is wrong.
    pub reason: String,
}

fn invalid(key: &'static str, reason: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        key,
        reason: reason.into(),
    }
}

fn duration(
    key: &'static str,
    v: &Option<String>,
    default: &str,
) -> Result<Duration, InvalidSetting> {
    let s = v.as_deref().unwrap_or(default).trim();
    humantime::parse_duration(s).map_err(|e| invalid(key, format!("{s:?}: {e}")))
}

fn on_off(key: &'static str, v: &Option<String>, default: bool) -> Result<bool, InvalidSetting> {
    match v.as_deref().map(str::trim) {
        None => Ok(default),
        Some("on" | "true" | "1" | "yes") => Ok(true),
        Some("off" | "false" | "0" | "no") => Ok(false),
        Some(other) => Err(invalid(key, format!("{other:?}: expected on or off"))),
    }
}

impl Settings {
    /// Validates a raw configuration. `is_tty` picks the default log format.
    pub fn from_raw(raw: RawConfig, is_tty: bool) -> Result<Self, InvalidSetting> {
        let listen_s = raw.listen.as_deref().unwrap_or("127.0.0.1:8080");
        let listen: SocketAddr = listen_s
            .parse()
            .map_err(|e| invalid("listen", format!("{listen_s:?}: {e}")))?;
        let data_dir = raw
            .data_dir
            .unwrap_or_else(|| PathBuf::from("./tessera-data"));
        let database_url = raw
            .database_url
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| {
                format!(
                    "sqlite://{}?mode=rwc",
                    data_dir.join("tessera.db").display()
                )
            });
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid("database_url", "expected sqlite:// or postgres://"));
        }
        let state_store = match raw.redis_url.as_deref().map(str::trim) {
            None | Some("") => StateStoreSettings::Memory,
            Some(url) if tessera_store::redis::is_sentinel_url(url) => {
                // One URL naming every sentinel (comma-separated hosts): not split.
                if raw.redis_cluster.unwrap_or(false) {
                    return Err(invalid(
                        "redis_url",
                        "a redis+sentinel:// URL cannot be used with TESSERA_REDIS_CLUSTER=true",
                    ));
                }
                if let Err(e) = tessera_store::redis::check_sentinel_url(url) {
                    return Err(invalid("redis_url", e));
                }
                StateStoreSettings::Redis {
                    urls: vec![url.to_owned()],
                    cluster: false,
                    ca_file: None,
                    key_prefix: String::new(),
                }
            }
            Some(urls) => {
                let urls: Vec<String> = urls
                    .split(',')
                    .map(|u| u.trim().to_owned())
                    .filter(|u| !u.is_empty())
                    .collect();
                let cluster = raw.redis_cluster.unwrap_or(false);
                if let Some(bad) = urls
                    .iter()
                    .find(|u| !(u.starts_with("redis://") || u.starts_with("rediss://")))
                {
                    let scheme = bad.split("://").next().unwrap_or("");
                    return Err(invalid(
                        "redis_url",
                        format!(
                            "unsupported scheme {scheme:?}: expected redis://, rediss:// or redis+sentinel://"
                        ),
                    ));
                }
                if urls.len() > 1 && !cluster {
                    return Err(invalid(
                        "redis_url",
                        "several URLs need TESSERA_REDIS_CLUSTER=true",
                    ));
                }
                StateStoreSettings::Redis {
                    urls,
                    cluster,
                    ca_file: None,
                    key_prefix: String::new(),
                }
            }
        };
        let state_store = match (state_store, raw.redis_ca_file) {
            (s, None) => s,
            (StateStoreSettings::Memory, Some(_)) => {
                return Err(invalid("redis_ca_file", "set, but redis_url is not"));
            }
            (StateStoreSettings::Redis { urls, cluster, .. }, Some(path)) => {
                if let Err(e) = tessera_store::redis::tls_certificates(&path) {
                    return Err(invalid("redis_ca_file", e.to_string()));
                }
                StateStoreSettings::Redis {
                    urls,
                    cluster,
                    ca_file: Some(path),
                    key_prefix: String::new(),
                }
            }
        };
        let state_store = match (state_store, raw.redis_key_prefix) {
            (StateStoreSettings::Memory, Some(_)) => {
                return Err(invalid("redis_key_prefix", "set, but redis_url is not"));
            }
            (StateStoreSettings::Memory, None) => StateStoreSettings::Memory,
            (
                StateStoreSettings::Redis {
                    urls,
                    cluster,
                    ca_file,
                    ..
                },
                prefix,
            ) => {
                let key_prefix = prefix.unwrap_or_else(|| {
                    tessera_store::redis::RedisConfig::DEFAULT_KEY_PREFIX.to_owned()
                });
                if key_prefix.is_empty()
                    || key_prefix.chars().count() > 64
                    || key_prefix.contains(['{', '}'])
                    || key_prefix.chars().any(char::is_whitespace)
                {
                    return Err(invalid(
                        "redis_key_prefix",
                        "1 to 64 characters, without '{', '}' or white space",
                    ));
                }
                StateStoreSettings::Redis {
                    urls,
                    cluster,
                    ca_file,
                    key_prefix,
                }
            }
        };
        let issuer = raw
            .issuer
            .map(|s| s.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{listen}"));
        let signing_alg = raw
            .signing_alg
            .as_deref()
            .unwrap_or("EdDSA")
            .parse()
            .map_err(|e: tessera_core::keys::alg::UnknownAlg| {
                invalid("signing_alg", e.to_string())
            })?;
        let access_token_ttl = duration("access_token_ttl", &raw.access_token_ttl, "15m")?;
        if access_token_ttl < Duration::from_secs(10)
            || access_token_ttl > Duration::from_secs(86_400)
        {
            return Err(invalid("access_token_ttl", "must be between 10s and 24h"));
        }
        let refresh_token_ttl = duration("refresh_token_ttl", &raw.refresh_token_ttl, "30d")?;
        let session_idle_timeout =
            duration("session_idle_timeout", &raw.session_idle_timeout, "7d")?;
        if refresh_token_ttl.is_zero() || session_idle_timeout.is_zero() {
            return Err(invalid(
                "refresh_token_ttl",
                "session lifetimes must be positive",
            ));
        }
        let refresh_reuse_grace = duration("refresh_reuse_grace", &raw.refresh_reuse_grace, "10s")?;
        if refresh_reuse_grace > Duration::from_secs(300) {
            return Err(invalid("refresh_reuse_grace", "at most 5m"));
        }
        let revocation_mode = match raw.revocation_mode.as_deref().map(str::trim) {
            None | Some("allowlist") => RevocationMode::Allowlist,
            Some("denylist") => RevocationMode::Denylist,
            Some(o) => {
                return Err(invalid(
                    "revocation_mode",
                    format!("{o:?}: expected allowlist or denylist"),
                ));
            }
        };
        let fail_mode = match raw.fail_mode.as_deref().map(str::trim) {
            None | Some("closed") => FailMode::Closed,
            Some("open") => FailMode::Open,
            Some(o) => {
                return Err(invalid(
                    "fail_mode",
                    format!("{o:?}: expected closed or open"),
                ));
            }
        };
        let log_format = match raw.log_format.as_deref().map(str::trim) {
            None => {
                if is_tty {
                    LogFormat::Pretty
                } else {
                    LogFormat::Json
                }
            }
            Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(o) => {
                return Err(invalid(
                    "log_format",
                    format!("{o:?}: expected pretty or json"),
                ));
            }
        };
        let token_transport = match raw.token_transport.as_deref().map(str::trim) {
            None | Some("body") => TokenTransport::Body,
            Some("cookie") => TokenTransport::Cookie,
            Some("both") => TokenTransport::Both,
            Some(o) => {
                return Err(invalid(
                    "token_transport",
                    format!("{o:?}: expected body, cookie or both"),
                ));
            }
        };
        let admin_token = raw.admin_token.filter(|s| !s.is_empty());
        if admin_token.as_ref().is_some_and(|t| t.chars().count() < 16) {
            return Err(invalid("admin_token", "must be at least 16 characters"));
        }
        let mut introspection_clients = Vec::new();
        for pair in raw
            .introspection_clients
            .as_deref()
            .unwrap_or("")
            .split(',')
        {
            let pair = pair.trim();
            if pair.is_empty() {
                continue;
            }
            match pair.split_once(':') {
                Some((id, secret))
                    if !id.is_empty() && secret.chars().count() >= MIN_CLIENT_SECRET =>
                {
                    introspection_clients.push(ClientCredential {
                        id: id.to_owned(),
                        secret: SecretString::from(secret.to_owned()),
                    })
                }
                _ => {
                    return Err(invalid(
                        "introspection_clients",
                        "expected comma-separated id:secret pairs, secrets of at least 32 characters",
                    ));
                }
            }
        }
        let smtp_url = raw
            .smtp_url
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty());
        if let Some(url) = &smtp_url {
            // The reason never repeats the URL: it may hold a password.
            crate::mail::check_smtp_url(url).map_err(|_| {
                invalid(
                    "smtp_url",
                    "expected smtp://host:port, smtp://host?tls=required or smtps://user:pass@host",
                )
            })?;
        }
        let mail_from = raw
            .mail_from
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "Tessera <no-reply@localhost>".to_owned());
        crate::mail::parse_mailbox(&mail_from).map_err(|e| invalid("mail_from", e.to_string()))?;
        let password_reset_url = raw
            .password_reset_url
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("{issuer}/reset-password"));
        if !(password_reset_url.starts_with("https://")
            || password_reset_url.starts_with("http://"))
            || password_reset_url.contains(char::is_whitespace)
        {
            return Err(invalid(
                "password_reset_url",
                "expected an http:// or https:// URL",
            ));
        }
        let password_reset_ttl = duration("password_reset_ttl", &raw.password_reset_ttl, "15m")?;
        if password_reset_ttl < Duration::from_secs(1)
            || password_reset_ttl > Duration::from_secs(86_400)
        {
            return Err(invalid("password_reset_ttl", "must be between 1s and 24h"));
        }
        let not_implemented: Vec<&'static str> = Vec::new();
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Settings {
            listen,
            data_dir,
            database_url: SecretString::from(database_url),
            state_store,
            issuer,
            audience: raw.audience.unwrap_or_else(|| "tessera".to_owned()),
            signing_alg,
            signing_key_file: raw.signing_key_file,
            access_token_ttl,
            refresh_token_ttl,
            session_idle_timeout,
            refresh_reuse_grace,
            revocation_mode,
            fail_mode,
            max_sessions_per_user: raw.max_sessions_per_user.filter(|n| *n > 0),
            admin_token: admin_token.map(SecretString::from),
            introspection_clients,
            token_transport,
            fingerprint: on_off("fingerprint", &raw.fingerprint, false)?,
            trusted_device_ttl: duration("trusted_device_ttl", &raw.trusted_device_ttl, "30d")?,
            mfa_challenge_ttl: duration("mfa_challenge_ttl", &raw.mfa_challenge_ttl, "5m")?
                .clamp(Duration::from_secs(1), Duration::from_secs(3600)),
            rate_limit: on_off("rate_limit", &raw.rate_limit, true)?,
            log_format,
            max_body_bytes: raw
                .max_body_bytes
                .unwrap_or(64 * 1024)
                .clamp(1024, 16 * 1024 * 1024),
            password_hash_concurrency: raw.password_hash_concurrency.unwrap_or(cpus).max(1),
            smtp_url: smtp_url.map(SecretString::from),
            mail_from,
            password_reset_url,
            password_reset_ttl,
            not_implemented,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn empty_configuration_gives_the_documented_defaults() {
        let s = Settings::from_raw(RawConfig::default(), false).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.issuer, "http://127.0.0.1:8080");
        assert_eq!(s.audience, "tessera");
        assert_eq!(s.signing_alg, SigningAlg::EdDSA);
        assert_eq!(s.access_token_ttl, Duration::from_secs(900));
        assert_eq!(s.refresh_token_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(s.session_idle_timeout, Duration::from_secs(7 * 86_400));
        assert_eq!(s.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(s.revocation_mode, RevocationMode::Allowlist);
        assert_eq!(s.fail_mode, FailMode::Closed);
        assert_eq!(s.state_store, StateStoreSettings::Memory);
        assert_eq!(s.max_sessions_per_user, None);
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(s.rate_limit);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (raw, key) in [
            (
                RawConfig {
                    listen: Some("nowhere".into()),
                    ..Default::default()
                },
                "listen",
            ),
            (
                RawConfig {
                    access_token_ttl: Some("soon".into()),
                    ..Default::default()
                },
                "access_token_ttl",
            ),
            (
                RawConfig {
                    revocation_mode: Some("maybe".into()),
                    ..Default::default()
                },
                "revocation_mode",
            ),
            (
                RawConfig {
                    signing_alg: Some("none".into()),
                    ..Default::default()
                },
                "signing_alg",
            ),
            (
                RawConfig {
                    redis_url: Some("memcached://x".into()),
                    ..Default::default()
                },
                "redis_url",
            ),
            (
                RawConfig {
                    database_url: Some("mysql://x".into()),
                    ..Default::default()
                },
                "database_url",
            ),
        ] {
            assert_eq!(Settings::from_raw(raw, false).unwrap_err().key, key);
        }
    }

    #[test]
    fn introspection_client_secrets_need_32_characters() {
        let with = |clients: &str| RawConfig {
            introspection_clients: Some(clients.into()),
            ..Default::default()
        };
        let short = format!("rs1:{}", "s".repeat(MIN_CLIENT_SECRET - 1));
        let err = Settings::from_raw(with(&short), false).unwrap_err();
        assert_eq!(err.key, "introspection_clients");
        let long = format!("rs1:{}", "s".repeat(MIN_CLIENT_SECRET));
        let s = Settings::from_raw(with(&long), false).unwrap();
        assert_eq!(s.introspection_clients.len(), 1);
    }

    #[test]
    fn redis_urls_are_not_in_debug_output() {
        let raw = RawConfig {
            redis_url: Some("redis://:hunter2@127.0.0.1:6379".into()),
            ..Default::default()
        };
        let s = Settings::from_raw(raw, false).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn a_sentinel_url_is_one_url_and_is_checked_without_echoing_the_password() {
        let url = "redis+sentinel://tessera:hunter2@10.0.0.1:26379,10.0.0.2:26379/main";
        let raw = RawConfig {
            redis_url: Some(url.into()),
            ..Default::default()
        };
        let s = Settings::from_raw(raw, false).unwrap();
        let StateStoreSettings::Redis { urls, cluster, .. } = &s.state_store else {
            panic!("expected a redis state store");
        };
        assert_eq!((urls.as_slice(), *cluster), (&[url.to_owned()][..], false));
        assert!(!format!("{s:?}").contains("hunter2"));
        for (bad, cluster) in [
            ("redis+sentinel://tessera:hunter2@10.0.0.1:26379", None),
            (
                "redis+sentinel://tessera:hunter2@10.0.0.1:26379/main?tls=1",
                None,
            ),
            (url, Some(true)),
        ] {
            let raw = RawConfig {
                redis_url: Some(bad.into()),
                redis_cluster: cluster,
                ..Default::default()
            };
            let e = Settings::from_raw(raw, false).unwrap_err();
            assert_eq!(e.key, "redis_url");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }

    #[test]
    fn a_redis_ca_file_must_be_readable_pem_and_needs_redis() {
        let raw = RawConfig {
            redis_url: Some("rediss://127.0.0.1:6380".into()),
            redis_ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = Settings::from_raw(raw, false).unwrap_err();
        assert_eq!(e.key, "redis_ca_file");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        let raw = RawConfig {
            redis_ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        assert_eq!(
            Settings::from_raw(raw, false).unwrap_err().key,
            "redis_ca_file"
        );
    }

    #[test]
    fn mail_settings_default_validate_and_hide_the_smtp_password() {
        let s = Settings::from_raw(RawConfig::default(), false).unwrap();
        assert!(s.smtp_url.is_none());
        assert_eq!(s.password_reset_url, "http://127.0.0.1:8080/reset-password");
        assert_eq!(s.password_reset_ttl, Duration::from_secs(900));
        assert_eq!(s.mail_from, "Tessera <no-reply@localhost>");
        assert!(s.not_implemented.is_empty());
        let raw = RawConfig {
            smtp_url: Some("smtps://mailer:hunter2@mail.example.org".into()),
            ..Default::default()
        };
        let s = Settings::from_raw(raw, false).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
        let raw = RawConfig {
            smtp_url: Some("ftp://mailer:hunter2@mail.example.org".into()),
            ..Default::default()
        };
        let e = Settings::from_raw(raw, false).unwrap_err();
        assert_eq!(e.key, "smtp_url");
        assert!(!e.to_string().contains("hunter2"));
        for (raw, key) in [
            (
                RawConfig {
                    mail_from: Some("not an address".into()),
                    ..Default::default()
                },
                "mail_from",
            ),
            (
                RawConfig {
                    password_reset_url: Some("javascript:alert(1)".into()),
                    ..Default::default()
                },
                "password_reset_url",
            ),
            (
                RawConfig {
                    password_reset_ttl: Some("0s".into()),
                    ..Default::default()
                },
                "password_reset_ttl",
            ),
        ] {
            assert_eq!(Settings::from_raw(raw, false).unwrap_err().key, key);
        }
    }
}
