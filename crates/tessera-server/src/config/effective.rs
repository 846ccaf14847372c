//! The effective configuration, defaults applied and secrets redacted: what
//! `tessera config check` prints.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::ExposeSecret;

use super::choice::{Choice, Switch};
use super::master_key::MasterKeySetting;
use super::names::{SETTINGS, SettingName};
use super::settings::Settings;
use super::storage::StateStoreSettings;

/// What stands in for a secret.
pub const REDACTED: &str = "<redacted>";

/// One setting's effective value as printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Shown {
    /// Text, printed as a TOML string. Secrets inside (URL passwords) already redacted.
    Text(String),
    /// A number or boolean, printed bare.
    Literal(String),
    /// A secret that is set: printed as [`REDACTED`], never its value.
    Redacted,
    /// Not set; the note says what that means.
    Unset(&'static str),
}

/// Every setting's effective value, in the order of [`SETTINGS`]. Shows as TOML lines
/// `key = value  # ENV_NAME` (an unset one as a comment), so it can be read back as a
/// configuration file once the redacted secrets are filled in.
#[derive(Clone, Debug)]
pub struct Effective {
    /// The configuration file that was read, if any.
    pub file: Option<PathBuf>,
    /// `(names, value)` for every entry of [`SETTINGS`].
    pub values: Vec<(&'static SettingName, Shown)>,
    /// Settings given whose feature is not built yet.
    pub not_implemented: Vec<&'static str>,
    /// The `[oauth]` section (printed as a TOML table, client secrets redacted).
    pub oauth: super::oauth::OAuthSettings,
}

impl Effective {
    /// The effective configuration of `settings`, read from `file` (if any) and the
    /// environment. Reads nothing else; no secret value is kept.
    pub fn of(settings: &Settings, file: Option<PathBuf>) -> Self {
        Effective {
            file,
            values: SETTINGS
                .iter()
                .map(|name| (name, shown(name.key, settings)))
                .collect(),
            not_implemented: settings.not_implemented.clone(),
            oauth: settings.oauth.clone(),
        }
    }

    /// The value shown for TOML key `key`.
    pub fn get(&self, key: &str) -> Option<&Shown> {
        self.values
            .iter()
            .find(|(name, _)| name.key == key)
            .map(|(_, v)| v)
    }
}

impl fmt::Display for Effective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "# tessera: the configuration is valid. Effective values (defaults applied, secrets redacted):"
        )?;
        match &self.file {
            Some(path) => writeln!(f, "# file: {}, under the environment", path.display())?,
            None => writeln!(f, "# file: none, environment only")?,
        }
        for (name, value) in &self.values {
            match value {
                Shown::Text(s) => writeln!(f, "{} = {}  # {}", name.key, toml_string(s), name.env)?,
                Shown::Literal(s) => writeln!(f, "{} = {s}  # {}", name.key, name.env)?,
                Shown::Redacted => writeln!(
                    f,
                    "{} = {}  # {}",
                    name.key,
                    toml_string(REDACTED),
                    name.env
                )?,
                Shown::Unset(note) => writeln!(f, "# {}: unset, {note}  # {}", name.key, name.env)?,
            }
        }
        write_oauth(f, &self.oauth)?;
        if !self.not_implemented.is_empty() {
            writeln!(
                f,
                "# not implemented yet, no effect: {}",
                self.not_implemented.join(", ")
            )?;
        }
        Ok(())
    }
}

/// The `[oauth]` table: every provider, its client secret as set or unset only.
fn write_oauth(f: &mut fmt::Formatter<'_>, o: &super::oauth::OAuthSettings) -> fmt::Result {
    use super::oauth::{ProviderKind, TokenAuth};
    let list = |v: &[String]| {
        let items: Vec<String> = v.iter().map(|s| toml_string(s)).collect();
        format!("[{}]", items.join(", "))
    };
    writeln!(f, "\n[oauth]")?;
    writeln!(
        f,
        "return_urls = {}  # TESSERA_OAUTH_RETURN_URLS",
        list(&o.return_urls)
    )?;
    writeln!(
        f,
        "link_verified_email = {}  # TESSERA_OAUTH_LINK_VERIFIED_EMAIL",
        o.link_verified_email
    )?;
    writeln!(
        f,
        "state_ttl = {}",
        toml_string(&humantime::format_duration(o.state_ttl).to_string())
    )?;
    for p in &o.providers {
        writeln!(f, "\n[oauth.providers.{}]", p.name)?;
        writeln!(f, "display_name = {}", toml_string(&p.display_name))?;
        match &p.kind {
            ProviderKind::Oidc { issuer, userinfo } => {
                writeln!(f, "kind = \"oidc\"")?;
                writeln!(f, "issuer = {}", toml_string(issuer))?;
                writeln!(f, "userinfo = {userinfo}")?;
            }
            ProviderKind::OAuth2 {
                authorize_url,
                token_url,
                userinfo_url,
                subject_field,
                email_field,
                email_verified_field,
                emails_verified,
            } => {
                writeln!(f, "kind = \"oauth2\"")?;
                writeln!(f, "authorize_url = {}", toml_string(authorize_url))?;
                writeln!(f, "token_url = {}", toml_string(token_url))?;
                writeln!(f, "userinfo_url = {}", toml_string(userinfo_url))?;
                writeln!(f, "subject_field = {}", toml_string(subject_field))?;
                writeln!(f, "email_field = {}", toml_string(email_field))?;
                if let Some(v) = email_verified_field {
                    writeln!(f, "email_verified_field = {}", toml_string(v))?;
                }
                writeln!(f, "emails_verified = {emails_verified}")?;
            }
        }
        let env = p.name.to_ascii_uppercase();
        writeln!(
            f,
            "client_id = {}  # TESSERA_OAUTH_{env}_CLIENT_ID",
            toml_string(&p.client_id)
        )?;
        match &p.client_secret {
            Some(_) => writeln!(
                f,
                "client_secret = {}  # TESSERA_OAUTH_{env}_CLIENT_SECRET",
                toml_string(REDACTED)
            )?,
            None => writeln!(
                f,
                "# client_secret: unset, a public client (PKCE only)  # TESSERA_OAUTH_{env}_CLIENT_SECRET"
            )?,
        }
        writeln!(f, "scopes = {}", list(&p.scopes))?;
        let auth = match &p.token_auth {
            TokenAuth::Basic => "client_secret_basic",
            TokenAuth::Post => "client_secret_post",
            TokenAuth::PrivateKeyJwt { key_file, key_id } => {
                writeln!(
                    f,
                    "private_key_file = {}",
                    toml_string(&key_file.display().to_string())
                )?;
                if let Some(k) = key_id {
                    writeln!(f, "private_key_id = {}", toml_string(k))?;
                }
                "private_key_jwt"
            }
        };
        writeln!(f, "token_auth = {}", toml_string(auth))?;
    }
    Ok(())
}

fn text(s: impl fmt::Display) -> Shown {
    Shown::Text(s.to_string())
}

fn literal(s: impl fmt::Display) -> Shown {
    Shown::Literal(s.to_string())
}

fn time(d: Duration) -> Shown {
    text(humantime::format_duration(d))
}

fn switch(on: bool) -> Shown {
    text(Switch::from_bool(on).name())
}

fn path_or(p: &Option<PathBuf>, note: &'static str) -> Shown {
    p.as_ref().map_or(Shown::Unset(note), |p| text(p.display()))
}

/// The effective value of the setting `key`. Every key of [`SETTINGS`] has an arm (a unit
/// test holds that); an unknown key shows as unset.
fn shown(key: &str, s: &Settings) -> Shown {
    let redis = match &s.state_store {
        StateStoreSettings::Memory => None,
        StateStoreSettings::Redis {
            urls,
            cluster,
            ca_file,
            key_prefix,
        } => Some((urls, *cluster, ca_file, key_prefix)),
    };
    match key {
        "listen" => text(s.listen),
        "data_dir" => text(s.data_dir.display()),
        "database_url" => text(redact_url(s.database_url.expose_secret())),
        "redis_url" => redis.map_or(Shown::Unset("the in-process memory store"), |r| {
            text(
                r.0.iter()
                    .map(|u| redact_url(u))
                    .collect::<Vec<_>>()
                    .join(","),
            )
        }),
        "redis_cluster" => literal(redis.is_some_and(|r| r.1)),
        "redis_ca_file" => match redis {
            Some((_, _, Some(ca), _)) => text(ca.display()),
            _ => Shown::Unset("the system's root certificates"),
        },
        "redis_key_prefix" => redis.map_or(Shown::Unset("no Redis"), |r| text(r.3)),
        "issuer" => text(&s.issuer),
        "audience" => text(&s.audience),
        "signing_alg" => text(s.signing_alg),
        "signing_key_file" => path_or(&s.signing_key_file, "generated keys"),
        "access_token_ttl" => time(s.access_token_ttl),
        "refresh_token_ttl" => time(s.refresh_token_ttl),
        "session_idle_timeout" => time(s.session_idle_timeout),
        "refresh_reuse_grace" => time(s.refresh_reuse_grace),
        "max_sessions_per_user" => literal(s.max_sessions_per_user.unwrap_or(0)),
        "revocation_mode" => text(s.revocation_mode.name()),
        "fail_mode" => text(s.fail_mode),
        "token_transport" => text(s.token_transport),
        "fingerprint" => switch(s.fingerprint),
        "durable_sessions" => switch(s.durable_sessions),
        "durable_lag" => time(s.durable_lag),
        "security_event_retention" => time(s.security_event_retention),
        "admin_token" => match &s.admin_token {
            Some(_) => Shown::Redacted,
            None => Shown::Unset("admin API disabled"),
        },
        "introspection_clients" if s.introspection_clients.is_empty() => {
            Shown::Unset("no introspection or revocation clients")
        }
        "introspection_clients" => text(
            s.introspection_clients
                .iter()
                .map(|c| format!("{}:{REDACTED}", c.id))
                .collect::<Vec<_>>()
                .join(","),
        ),
        "smtp_url" => s
            .smtp_url
            .as_ref()
            .map_or(Shown::Unset("mail written to the outbox"), |u| {
                text(redact_url(u.expose_secret()))
            }),
        "mail_from" => text(&s.mail_from),
        "password_reset_url" => text(&s.password_reset_url),
        "password_reset_ttl" => time(s.password_reset_ttl),
        "mfa_challenge_ttl" => time(s.mfa_challenge_ttl),
        "trusted_device_ttl" => time(s.trusted_device_ttl),
        "rate_limit" => switch(s.rate_limit),
        "trusted_proxies" => text(cidr_list(&s.trusted_proxies)),
        "log_format" => text(s.log_format),
        "max_body_bytes" => literal(s.max_body_bytes),
        "header_read_timeout" => time(s.header_read_timeout),
        "password_hash_concurrency" => literal(s.password_hash_concurrency),
        "master_key" => match &s.master_key {
            MasterKeySetting::Value(_) => Shown::Redacted,
            MasterKeySetting::File(_) => Shown::Unset("read from master_key_file"),
            MasterKeySetting::Generated => {
                Shown::Unset("generated into the data dir (master.key) on first start")
            }
        },
        "webauthn_rp_id" => s.webauthn.as_ref().map_or(
            Shown::Unset("passkeys off: the issuer is neither https nor loopback"),
            |r| text(&r.rp_id),
        ),
        "webauthn_origins" => s.webauthn.as_ref().map_or(
            Shown::Unset("passkeys off: the issuer is neither https nor loopback"),
            |r| text(r.origins.join(",")),
        ),
        "master_key_file" => match &s.master_key {
            MasterKeySetting::File(p) => text(p.display()),
            _ => Shown::Unset("no master key file"),
        },
        _ => Shown::Unset("unknown setting"),
    }
}

/// `10.0.0.0/8,192.0.2.7/32`, from the list's `Debug` form (`["10.0.0.0/8", …]`: CIDRs have
/// no quote, comma or space to escape).
fn cidr_list(proxies: &crate::http::forwarded::TrustedProxies) -> String {
    format!("{proxies:?}")
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | '"' | ' '))
        .collect()
}

/// `url` with its password (and any query parameter that may be a secret: `password`,
/// `secret`, `token`, `key`) replaced by [`REDACTED`]. A user name is kept when a password
/// follows it (`user:<redacted>@host`); user information without a `:` is redacted whole.
/// Works on URLs the `url` crate refuses (several hosts of a `redis+sentinel://` URL).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let authority_end = if scheme.is_some() {
        rest.find(['/', '?', '#']).unwrap_or(rest.len())
    } else {
        0
    };
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:{REDACTED}@{host}"),
            None => format!("{REDACTED}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let (query, fragment) = match query.split_once('#') {
                Some((q, frag)) => (q, Some(frag)),
                None => (query, None),
            };
            let query = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if may_be_secret(k) => format!("{k}={REDACTED}"),
                    _ => pair.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&");
            match fragment {
                Some(frag) => format!("{path}?{query}#{frag}"),
                None => format!("{path}?{query}"),
            }
        }
        None => tail.to_owned(),
    };
    match scheme {
        Some(scheme) => format!("{scheme}://{authority}{tail}"),
        None => format!("{authority}{tail}"),
    }
}

fn may_be_secret(param: &str) -> bool {
    let p = param.to_ascii_lowercase();
    ["pass", "secret", "token", "key"]
        .iter()
        .any(|s| p.contains(s))
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests;
