//! The names of every setting: its TOML key and its environment variable, in one table.
//!
//! These names are part of the contract (API.md "Configuration", README "Configuration").
//! The loader reads the environment through this table only, and the tests hold it, the
//! [`RawConfig`](super::RawConfig) fields and the documentation in agreement.

/// One setting's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingName {
    /// The TOML key, which is also the [`RawConfig`](super::RawConfig) field.
    pub key: &'static str,
    /// The environment variable: `TESSERA_<KEY>`, except `DATABASE_URL` and `REDIS_URL`,
    /// which are read without the prefix (and never as `TESSERA_DATABASE_URL`).
    pub env: &'static str,
    /// Whether the value may hold a secret: never logged or printed, only "set" or redacted.
    pub secret: bool,
}

impl SettingName {
    /// The variable's name without the `TESSERA_` prefix, or `None` for a bare name
    /// (`DATABASE_URL`, `REDIS_URL`).
    pub fn prefixed_name(&self) -> Option<&'static str> {
        self.env.strip_prefix(ENV_PREFIX)
    }
}

/// The prefix of the environment variables of the settings (but two bare names).
pub const ENV_PREFIX: &str = "TESSERA_";

/// The environment variable naming the configuration file when `--config` is not given.
pub const CONFIG_FILE_ENV: &str = "TESSERA_CONFIG";

const fn name(key: &'static str, env: &'static str) -> SettingName {
    SettingName {
        key,
        env,
        secret: false,
    }
}

const fn secret(key: &'static str, env: &'static str) -> SettingName {
    SettingName {
        key,
        env,
        secret: true,
    }
}

/// Every setting, in the order `tessera config check` prints them. Exactly one entry per
/// [`RawConfig`](super::RawConfig) field (a unit test holds that).
pub const SETTINGS: &[SettingName] = &[
    name("listen", "TESSERA_LISTEN"),
    name("data_dir", "TESSERA_DATA_DIR"),
    secret("database_url", "DATABASE_URL"),
    secret("redis_url", "REDIS_URL"),
    name("redis_cluster", "TESSERA_REDIS_CLUSTER"),
    name("redis_ca_file", "TESSERA_REDIS_CA_FILE"),
    name("redis_key_prefix", "TESSERA_REDIS_KEY_PREFIX"),
    name("issuer", "TESSERA_ISSUER"),
    name("audience", "TESSERA_AUDIENCE"),
    name("signing_alg", "TESSERA_SIGNING_ALG"),
    name("signing_key_file", "TESSERA_SIGNING_KEY_FILE"),
    name("access_token_ttl", "TESSERA_ACCESS_TOKEN_TTL"),
    name("refresh_token_ttl", "TESSERA_REFRESH_TOKEN_TTL"),
    name("session_idle_timeout", "TESSERA_SESSION_IDLE_TIMEOUT"),
    name("refresh_reuse_grace", "TESSERA_REFRESH_REUSE_GRACE"),
    name("max_sessions_per_user", "TESSERA_MAX_SESSIONS_PER_USER"),
    name("revocation_mode", "TESSERA_REVOCATION_MODE"),
    name("fail_mode", "TESSERA_FAIL_MODE"),
    name("durable_sessions", "TESSERA_DURABLE_SESSIONS"),
    name("durable_lag", "TESSERA_DURABLE_LAG"),
    name(
        "security_event_retention",
        "TESSERA_SECURITY_EVENT_RETENTION",
    ),
    name("token_transport", "TESSERA_TOKEN_TRANSPORT"),
    name("fingerprint", "TESSERA_FINGERPRINT"),
    secret("admin_token", "TESSERA_ADMIN_TOKEN"),
    secret("introspection_clients", "TESSERA_INTROSPECTION_CLIENTS"),
    secret("smtp_url", "TESSERA_SMTP_URL"),
    name("mail_from", "TESSERA_MAIL_FROM"),
    name("password_reset_url", "TESSERA_PASSWORD_RESET_URL"),
    name("password_reset_ttl", "TESSERA_PASSWORD_RESET_TTL"),
    name("mfa_challenge_ttl", "TESSERA_MFA_CHALLENGE_TTL"),
    name("trusted_device_ttl", "TESSERA_TRUSTED_DEVICE_TTL"),
    name("rate_limit", "TESSERA_RATE_LIMIT"),
    name("trusted_proxies", "TESSERA_TRUSTED_PROXIES"),
    name("log_format", "TESSERA_LOG_FORMAT"),
    name("max_body_bytes", "TESSERA_MAX_BODY_BYTES"),
    name("header_read_timeout", "TESSERA_HEADER_READ_TIMEOUT"),
    name(
        "password_hash_concurrency",
        "TESSERA_PASSWORD_HASH_CONCURRENCY",
    ),
    secret("master_key", "TESSERA_MASTER_KEY"),
    name("master_key_file", "TESSERA_MASTER_KEY_FILE"),
    name("webauthn_rp_id", "TESSERA_WEBAUTHN_RP_ID"),
    name("webauthn_origins", "TESSERA_WEBAUTHN_ORIGINS"),
];

/// Names API.md reserves for features that are not built yet. They are not settings: the
/// loader does not read them (a `TESSERA_*` one is named in the "not settings" warning, a
/// TOML key is refused like any unknown key). Kept here so the contract's list and this
/// table are checked against each other; a name moves to [`SETTINGS`] with its feature.
pub const PLANNED: &[&str] = &[];

/// Nested sections of [`RawConfig`](super::RawConfig): tables, not settings, so not in
/// [`SETTINGS`]. Their environment names are derived from their keys (see
/// [`super::oauth`]); `tessera config check` prints them as a TOML table.
pub const SECTIONS: &[&str] = &["oauth"];

/// Environment names of the contract that belong to a nested section.
pub const SECTION_ENV: &[&str] = &["TESSERA_OAUTH_RETURN_URLS"];

/// The setting read from the environment variable `var` (compared case-insensitively, as
/// the loader does), if any.
pub fn by_env(var: &str) -> Option<&'static SettingName> {
    SETTINGS.iter().find(|s| s.env.eq_ignore_ascii_case(var))
}

/// The setting with TOML key `key`, if any.
pub fn by_key(key: &str) -> Option<&'static SettingName> {
    SETTINGS.iter().find(|s| s.key == key)
}

#[cfg(test)]
mod tests;
