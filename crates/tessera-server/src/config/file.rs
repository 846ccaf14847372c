//! The configuration as written by operators: TOML file keys and `TESSERA_*` variables.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use std::time::Duration;

use tessera_core::keys::SigningAlg;
use tessera_store::RevocationMode;

use super::choice::Switch;
use super::names::{CONFIG_FILE_ENV, ENV_PREFIX, SETTINGS};
use super::oauth::RawOAuth;

/// The prefix of the `[oauth]` section's environment variables.
const OAUTH_ENV_PREFIX: &str = "TESSERA_OAUTH_";
use super::written::Written;
use super::{FailMode, LogFormat, TokenTransport};

/// Every setting as written. Each TOML key `name` is also the environment variable
/// `TESSERA_NAME` (`database_url` and `redis_url` are read from `DATABASE_URL` and
/// `REDIS_URL`): the names come from [`SETTINGS`], which has one entry per field. The
/// environment wins over the file. Durations are human strings (`15m`, `10s`, `30d`).
///
/// Values stay text here (a TOML number or boolean given for a text setting is taken back as
/// the text written, see `lenient_string`); [`Settings::from_raw`](super::Settings::from_raw)
/// parses each once into its type, naming the key and the accepted values when it cannot. A
/// [`Written<T>`] field is text bound for a `T` (a fixed set of words, a duration).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    /// Address to serve HTTP on. Default `127.0.0.1:8080`.
    #[serde(deserialize_with = "lenient_string")]
    pub listen: Option<String>,
    /// Directory for the embedded SQLite file, generated keys and the mail outbox.
    /// Default `./tessera-data`.
    pub data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…`. Default: SQLite file `tessera.db` in the data dir.
    #[serde(deserialize_with = "lenient_string")]
    pub database_url: Option<String>,
    /// `redis://` / `rediss://` URL, comma-separated seeds with `redis_cluster`, or one
    /// `redis+sentinel://` URL. Default: unset, the in-process memory store.
    #[serde(deserialize_with = "lenient_string")]
    pub redis_url: Option<String>,
    /// Treat `redis_url` as Redis Cluster seeds. Default `false`.
    pub redis_cluster: Option<bool>,
    /// PEM file of the CA that signs the Redis servers' TLS certificates: `rediss://`
    /// connections trust it instead of the system roots. Default: unset (system roots).
    pub redis_ca_file: Option<PathBuf>,
    /// Prefix of every Redis key and of the revocation channel, so several deployments can
    /// share one Redis (the ACL rules and every guard must use the same one). At most 64
    /// characters, no `{`, `}` or white space. Default `ts:`.
    #[serde(deserialize_with = "lenient_string")]
    pub redis_key_prefix: Option<String>,
    /// `iss` claim and metadata issuer. Default `http://<listen>`.
    #[serde(deserialize_with = "lenient_string")]
    pub issuer: Option<String>,
    /// `aud` claim. Default `tessera`.
    #[serde(deserialize_with = "lenient_string")]
    pub audience: Option<String>,
    /// `EdDSA`, `ES256`, `RS256` or `HS256`. Default `EdDSA`.
    #[serde(deserialize_with = "lenient_written")]
    pub signing_alg: Option<Written<SigningAlg>>,
    /// PKCS#8 PEM private key to sign with instead of generated keys (share it between
    /// instances). Default: unset.
    pub signing_key_file: Option<PathBuf>,
    /// Access-token lifetime. Default `15m`.
    #[serde(deserialize_with = "lenient_written")]
    pub access_token_ttl: Option<Written<Duration>>,
    /// Absolute session lifetime. Default `30d`.
    #[serde(deserialize_with = "lenient_written")]
    pub refresh_token_ttl: Option<Written<Duration>>,
    /// A session dies when not refreshed for this long. Default `7d`.
    #[serde(deserialize_with = "lenient_written")]
    pub session_idle_timeout: Option<Written<Duration>>,
    /// Concurrent-refresh grace window; `0s` disables. Default `10s`.
    #[serde(deserialize_with = "lenient_written")]
    pub refresh_reuse_grace: Option<Written<Duration>>,
    /// `allowlist` or `denylist`. Default `allowlist`.
    #[serde(deserialize_with = "lenient_written")]
    pub revocation_mode: Option<Written<RevocationMode>>,
    /// `closed` (503 when the state store is down) or `open`. Default `closed`.
    #[serde(deserialize_with = "lenient_written")]
    pub fail_mode: Option<Written<FailMode>>,
    /// `on`: a durable SQL copy of sessions and revocations. Default `on`.
    #[serde(deserialize_with = "lenient_written")]
    pub durable_sessions: Option<Written<Switch>>,
    /// The most a rotation waits before its durable copy is written. Default `1s`.
    #[serde(deserialize_with = "lenient_written")]
    pub durable_lag: Option<Written<Duration>>,
    /// How long SQL keeps a security event. Default `365d`.
    #[serde(deserialize_with = "lenient_written")]
    pub security_event_retention: Option<Written<Duration>>,
    /// Oldest session evicted beyond this many; `0` = no limit. Default `0`.
    pub max_sessions_per_user: Option<u32>,
    /// `body`, `cookie` or `both`. Default `body`.
    #[serde(deserialize_with = "lenient_written")]
    pub token_transport: Option<Written<TokenTransport>>,
    /// `on` binds access tokens to a hardened cookie. Default `off`.
    #[serde(deserialize_with = "lenient_written")]
    pub fingerprint: Option<Written<Switch>>,
    /// Bearer secret for `/v1/admin/*`. Default: unset (admin API disabled).
    #[serde(deserialize_with = "lenient_string")]
    pub admin_token: Option<String>,
    /// `smtp://host:port` or `smtps://user:pass@host`. Default: mail written to the outbox.
    #[serde(deserialize_with = "lenient_string")]
    pub smtp_url: Option<String>,
    /// Front-end page receiving `?token=` from the reset mail. Default `<issuer>/reset-password`.
    #[serde(deserialize_with = "lenient_string")]
    pub password_reset_url: Option<String>,
    /// Lifetime of a password-reset token. Default `15m`.
    #[serde(deserialize_with = "lenient_written")]
    pub password_reset_ttl: Option<Written<Duration>>,
    /// Sender of outgoing mail (`Name <address>` or `address`). Default
    /// `Tessera <no-reply@localhost>`.
    #[serde(deserialize_with = "lenient_string")]
    pub mail_from: Option<String>,
    /// `id:secret` pairs (comma-separated) for `/oauth2/introspect` and `/oauth2/revoke`.
    #[serde(deserialize_with = "lenient_string")]
    pub introspection_clients: Option<String>,
    /// `off` disables rate limiting and lockout (benchmarks only). Default `on`.
    #[serde(deserialize_with = "lenient_written")]
    pub rate_limit: Option<Written<Switch>>,
    /// `pretty` or `json`. Default `pretty` on a terminal, else `json`.
    #[serde(deserialize_with = "lenient_written")]
    pub log_format: Option<Written<LogFormat>>,
    /// Largest accepted request body in bytes. Default `65536`.
    pub max_body_bytes: Option<usize>,
    /// The longest a client may take to send a request's headers, idle keep-alive
    /// included. Default `75s`.
    #[serde(deserialize_with = "lenient_written")]
    pub header_read_timeout: Option<Written<Duration>>,
    /// How long a sign-in challenge waits for its second factor. Default `5m`.
    #[serde(deserialize_with = "lenient_written")]
    pub mfa_challenge_ttl: Option<Written<Duration>>,
    /// How long a trusted device skips the second factor. Default `30d`.
    #[serde(deserialize_with = "lenient_written")]
    pub trusted_device_ttl: Option<Written<Duration>>,
    /// Concurrent Argon2 hashes; default: the number of CPUs.
    pub password_hash_concurrency: Option<usize>,
    /// Comma-separated CIDRs of reverse proxies whose `Forwarded` / `X-Forwarded-For` is
    /// believed (the right-most untrusted address is the client). Default: empty (those
    /// headers are ignored).
    #[serde(deserialize_with = "lenient_string")]
    pub trusted_proxies: Option<String>,
    /// 32 random bytes in base64url: seals the keys stored in SQL. Every instance of a
    /// deployment uses the same one. Default: unset (`master_key_file`, else the generated
    /// `<data dir>/master.key`).
    #[serde(deserialize_with = "lenient_string")]
    pub master_key: Option<String>,
    /// File holding the master key (same encoding). Default: unset.
    pub master_key_file: Option<PathBuf>,
    /// WebAuthn relying-party id (passkeys). Default: the issuer's host.
    #[serde(deserialize_with = "lenient_string")]
    pub webauthn_rp_id: Option<String>,
    /// Comma-separated origins passkey ceremonies may come from. Default: the issuer's
    /// origin.
    #[serde(deserialize_with = "lenient_string")]
    pub webauthn_origins: Option<String>,
    /// `[oauth]`: federated sign-in (return URLs and providers). The one nested section;
    /// its environment names are derived (see [`super::oauth`]), not listed in
    /// [`SETTINGS`].
    pub oauth: Option<RawOAuth>,
}

/// Redacts every setting that may hold a secret (those marked `secret` in [`SETTINGS`]:
/// `database_url`, `redis_url`, `admin_token`, `smtp_url`, `introspection_clients`,
/// `master_key`): shown
/// only as set or unset. Destructured, so a new field does not compile until it is listed
/// here; a unit test checks that every field is shown and every secret one redacted.
impl fmt::Debug for RawConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let RawConfig {
            listen,
            data_dir,
            database_url,
            redis_url,
            redis_cluster,
            redis_ca_file,
            redis_key_prefix,
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
            durable_sessions,
            durable_lag,
            security_event_retention,
            max_sessions_per_user,
            token_transport,
            fingerprint,
            admin_token,
            smtp_url,
            password_reset_url,
            password_reset_ttl,
            mail_from,
            introspection_clients,
            rate_limit,
            log_format,
            max_body_bytes,
            header_read_timeout,
            mfa_challenge_ttl,
            trusted_device_ttl,
            password_hash_concurrency,
            trusted_proxies,
            master_key,
            master_key_file,
            webauthn_rp_id,
            webauthn_origins,
            oauth,
        } = self;
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("RawConfig")
            .field("listen", listen)
            .field("data_dir", data_dir)
            .field("database_url", &redacted(database_url))
            .field("redis_url", &redacted(redis_url))
            .field("redis_cluster", redis_cluster)
            .field("redis_ca_file", redis_ca_file)
            .field("redis_key_prefix", redis_key_prefix)
            .field("issuer", issuer)
            .field("audience", audience)
            .field("signing_alg", signing_alg)
            .field("signing_key_file", signing_key_file)
            .field("access_token_ttl", access_token_ttl)
            .field("refresh_token_ttl", refresh_token_ttl)
            .field("session_idle_timeout", session_idle_timeout)
            .field("refresh_reuse_grace", refresh_reuse_grace)
            .field("revocation_mode", revocation_mode)
            .field("fail_mode", fail_mode)
            .field("durable_sessions", durable_sessions)
            .field("durable_lag", durable_lag)
            .field("security_event_retention", security_event_retention)
            .field("max_sessions_per_user", max_sessions_per_user)
            .field("token_transport", token_transport)
            .field("fingerprint", fingerprint)
            .field("admin_token", &redacted(admin_token))
            .field("smtp_url", &redacted(smtp_url))
            .field("password_reset_url", password_reset_url)
            .field("password_reset_ttl", password_reset_ttl)
            .field("mail_from", mail_from)
            .field("introspection_clients", &redacted(introspection_clients))
            .field("rate_limit", rate_limit)
            .field("log_format", log_format)
            .field("max_body_bytes", max_body_bytes)
            .field("header_read_timeout", header_read_timeout)
            .field("mfa_challenge_ttl", mfa_challenge_ttl)
            .field("trusted_device_ttl", trusted_device_ttl)
            .field("password_hash_concurrency", password_hash_concurrency)
            .field("trusted_proxies", trusted_proxies)
            .field("master_key", &redacted(master_key))
            .field("master_key_file", master_key_file)
            .field("webauthn_rp_id", webauthn_rp_id)
            .field("webauthn_origins", webauthn_origins)
            .field("oauth", oauth)
            .finish()
    }
}

/// [`lenient_string`], kept as text bound for a `T`.
fn lenient_written<'de, D: serde::Deserializer<'de>, T>(
    d: D,
) -> Result<Option<Written<T>>, D::Error> {
    Ok(lenient_string(d)?.map(Written::from))
}

/// Environment values arrive parsed (`12345` as a number, `true` as a boolean); a string
/// setting takes them back as the text that was written.
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        S(String),
        I(i64),
        U(u64),
        F(f64),
        B(bool),
    }
    Ok(Option::<Scalar>::deserialize(d)?.map(|v| match v {
        Scalar::S(s) => s,
        Scalar::I(i) => i.to_string(),
        Scalar::U(u) => u.to_string(),
        Scalar::F(f) => f.to_string(),
        Scalar::B(b) => b.to_string(),
    }))
}

/// Why configuration could not be read. It has no `source()`: the cause's own text would
/// be printed after this one (`{:#}`), quoted lines and all.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError(Box<figment::Error>);

impl From<Box<figment::Error>> for ConfigError {
    fn from(e: Box<figment::Error>) -> Self {
        Self(e)
    }
}

/// Says where and why, never what: a TOML syntax error's message quotes the offending line
/// of the file (`7 | admin_token = s3cr3t…` under a gutter), and that line may hold a
/// secret, so the quoted lines are left out.
impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.to_string();
        let quoted = |line: &str| {
            line.trim_start()
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start()
                .starts_with('|')
        };
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !quoted(l) && !l.trim().is_empty())
            .collect();
        write!(f, "configuration: {}", kept.join("; "))
    }
}

impl RawConfig {
    /// File (if any) then environment. `TESSERA_CONFIG` names the file when `path` is `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(p) = Self::file_path(path) {
            fig = fig.merge(Toml::file_exact(p));
        }
        Self::with_env(fig)
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
    }

    /// The file layer alone: `text` as the content of the configuration file, without the
    /// environment and without touching the file system. [`load`](Self::load) is this plus
    /// the environment; the `config_file` fuzz target feeds arbitrary text here.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Figment::from(Serialized::defaults(RawConfig::default()))
            .merge(Toml::string(text))
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
    }

    /// The configuration file [`load`](Self::load) reads: `path`, else `TESSERA_CONFIG`.
    pub fn file_path(path: Option<&Path>) -> Option<PathBuf> {
        path.map(Path::to_path_buf)
            .or_else(|| std::env::var_os(CONFIG_FILE_ENV).map(PathBuf::from))
    }

    fn with_env(fig: Figment) -> Figment {
        // Values stay strings: `TESSERA_ADMIN_TOKEN=12345` is a string, not a number. Numeric
        // and boolean keys are parsed by figment's lenient deserializer. Names are compared
        // case-insensitively, as figment does.
        fig.merge(Env::prefixed(ENV_PREFIX).filter(|k| {
            SETTINGS.iter().any(|s| {
                s.prefixed_name()
                    .is_some_and(|n| n.eq_ignore_ascii_case(k.as_str()))
            })
        }))
        .merge(Env::raw().filter(|k| {
            SETTINGS
                .iter()
                .any(|s| s.prefixed_name().is_none() && s.env.eq_ignore_ascii_case(k.as_str()))
        }))
        .merge(
            Env::prefixed(OAUTH_ENV_PREFIX)
                .filter_map(|k| super::oauth::env_key(k.as_str()).map(Into::into)),
        )
    }

    /// `TESSERA_*` variables that are set but not configuration keys (lowercased, without
    /// the prefix), `TESSERA_CONFIG` aside. They are ignored; `main` names them in a warning,
    /// so unrelated variables such as `TESSERA_REQUIRE_SERVICES` never break start.
    pub fn unknown_env_keys() -> Vec<String> {
        let config = CONFIG_FILE_ENV
            .strip_prefix(ENV_PREFIX)
            .unwrap_or(CONFIG_FILE_ENV);
        std::env::vars()
            .filter_map(|(k, _)| k.strip_prefix(ENV_PREFIX).map(str::to_lowercase))
            .filter(|k| {
                !SETTINGS
                    .iter()
                    .any(|s| s.prefixed_name().is_some_and(|n| n.eq_ignore_ascii_case(k)))
                    && !k.eq_ignore_ascii_case(config)
                    && k.strip_prefix("oauth_")
                        .is_none_or(|rest| super::oauth::env_key(rest).is_none())
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::result_large_err)]
    use super::*;

    #[test]
    fn a_syntax_error_names_the_place_but_never_quotes_the_line() {
        for text in [
            "listen = \"127.0.0.1:9000\"\nadmin_token = s3cr3t-unquoted-value\n",
            "admin_token = \"s3cr3t-unterminated\n",
            "admin_token = \"s3cr3t-twice\"\nadmin_token = \"s3cr3t-twice\"\n",
        ] {
            let e = RawConfig::from_toml(text).unwrap_err();
            // As `main` prints it: with every cause.
            let e = format!("{:#}", anyhow::Error::from(e));
            assert!(!e.contains("s3cr3t"), "{e}");
            assert!(e.contains("line"), "the place is still named: {e}");
        }
    }

    #[test]
    fn environment_overrides_file_and_keeps_strings_as_strings() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "tessera.toml",
                "listen = \"127.0.0.1:9000\"\naudience = \"from-file\"\nmax_sessions_per_user = 3\n",
            )?;
            jail.set_env("TESSERA_LISTEN", "127.0.0.1:9100");
            jail.set_env("TESSERA_ADMIN_TOKEN", "12345");
            jail.set_env("TESSERA_REQUIRE_SERVICES", "1");
            jail.set_env("REDIS_URL", "redis://127.0.0.1:6390");
            let raw = RawConfig::load(Some(Path::new("tessera.toml"))).unwrap();
            assert_eq!(raw.listen.as_deref(), Some("127.0.0.1:9100"));
            assert_eq!(raw.audience.as_deref(), Some("from-file"));
            assert_eq!(raw.max_sessions_per_user, Some(3));
            assert_eq!(raw.admin_token.as_deref(), Some("12345"));
            assert_eq!(raw.redis_url.as_deref(), Some("redis://127.0.0.1:6390"));
            Ok(())
        });
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let raw = RawConfig {
            database_url: Some("postgres://tessera:pg-hunter2@db/tessera".into()),
            redis_url: Some("redis://:redis-hunter2@127.0.0.1:6379".into()),
            admin_token: Some("admin-hunter2-0123456789".into()),
            smtp_url: Some("smtps://mailer:smtp-hunter2@mail.example.org".into()),
            introspection_clients: Some("gateway:client-hunter2-0123456789abcdefghij".into()),
            audience: Some("visible-audience".into()),
            ..Default::default()
        };
        let shown = format!("{raw:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("visible-audience") && shown.contains("<redacted>"),
            "{shown}"
        );
        let settings = crate::config::Settings::from_raw(raw, false).unwrap();
        let shown = format!("{settings:?} {settings:#?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("gateway"),
            "client ids are not secret: {shown}"
        );
    }

    #[test]
    fn toml_booleans_and_numbers_are_taken_as_the_words_written() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "tessera.toml",
                "fingerprint = true\nrate_limit = 0\nrefresh_reuse_grace = \"0s\"\n",
            )?;
            jail.set_env("TESSERA_FAIL_MODE", "open");
            jail.set_env("TESSERA_TOKEN_TRANSPORT", " both ");
            let raw = RawConfig::load(Some(Path::new("tessera.toml"))).unwrap();
            assert_eq!(raw.fingerprint.as_deref(), Some("true"));
            assert_eq!(raw.rate_limit.as_deref(), Some("0"));
            let s = crate::config::Settings::from_raw(raw, false).unwrap();
            assert!(s.fingerprint && !s.rate_limit);
            assert_eq!(s.fail_mode, crate::config::FailMode::Open);
            assert_eq!(s.token_transport, crate::config::TokenTransport::Both);
            assert!(s.refresh_reuse_grace.is_zero());
            Ok(())
        });
    }

    #[test]
    fn file_text_reads_like_the_file_and_ignores_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("TESSERA_AUDIENCE", "from-env");
            let raw = RawConfig::from_toml("audience = \"from-text\"\nrate_limit = 0\n").unwrap();
            assert_eq!(raw.audience.as_deref(), Some("from-text"));
            assert_eq!(raw.rate_limit.as_deref(), Some("0"));
            assert!(RawConfig::from_toml("").unwrap().audience.is_none());
            let err = RawConfig::from_toml("listn = 1").unwrap_err();
            assert!(err.to_string().contains("listn"), "{err}");
            assert!(RawConfig::from_toml("listen = ").is_err());
            Ok(())
        });
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "listn = \"127.0.0.1:9000\"\n")?;
            let err = RawConfig::load(Some(Path::new("bad.toml"))).unwrap_err();
            assert!(err.to_string().contains("listn"), "{err}");
            Ok(())
        });
    }
}
