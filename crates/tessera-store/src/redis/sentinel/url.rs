//! The `redis+sentinel://` URL (syntax in the module docs of `sentinel`).

use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{ConnectionAddr, RedisResult};

use crate::error::ConfigError;

/// The URL scheme of a Sentinel deployment.
pub const SENTINEL_SCHEME: &str = "redis+sentinel://";

/// Port of a sentinel given without one.
const DEFAULT_SENTINEL_PORT: u16 = 26379;
/// True for a `redis+sentinel://` URL.
pub fn is_sentinel_url(url: &str) -> bool {
    url.get(..SENTINEL_SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(SENTINEL_SCHEME))
}

/// Checks a `redis+sentinel://` URL without connecting. The error says what is wrong and
/// never contains the password.
pub fn check_sentinel_url(url: &str) -> Result<(), String> {
    SentinelUrl::parse(url).map(|_| ()).map_err(|e| e.0)
}

/// What is wrong with a `redis+sentinel://` URL (the text starts with `redis+sentinel URL:`
/// and never contains the password).
#[derive(Debug, thiserror::Error)]
#[error("invalid redis configuration: {0}")]
pub(crate) struct BadSentinelUrl(pub(crate) String);

impl From<BadSentinelUrl> for ConfigError {
    fn from(e: BadSentinelUrl) -> Self {
        ConfigError::Invalid(e.0)
    }
}

/// A parsed `redis+sentinel://` URL. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SentinelUrl {
    pub(crate) sentinels: Vec<(String, u16)>,
    pub(crate) master_name: String,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: i64,
}

impl std::fmt::Debug for SentinelUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelUrl")
            .field("sentinels", &self.sentinels)
            .field("master_name", &self.master_name)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("db", &self.db)
            .finish()
    }
}

impl SentinelUrl {
    /// Parses `url`. Errors name what is wrong, never the password.
    pub(crate) fn parse(url: &str) -> Result<Self, BadSentinelUrl> {
        let bad = |m: &str| BadSentinelUrl(format!("redis+sentinel URL: {m}"));
        if !is_sentinel_url(url) {
            return Err(bad("expected the scheme redis+sentinel://"));
        }
        let rest = &url[SENTINEL_SCHEME.len()..];
        if rest.contains(['?', '#']) {
            return Err(bad("query parameters and fragments are not supported"));
        }
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(u) => {
                let (user, pass) = match u.split_once(':') {
                    Some((user, pass)) => (user, Some(pass)),
                    // `redis://secret@host` means "password only" to redis-rs: the same here.
                    None => ("", Some(u)),
                };
                let user = percent_decode(user).ok_or_else(|| bad("bad escape in user name"))?;
                let pass = pass
                    .map(|p| percent_decode(p).ok_or_else(|| bad("bad escape in password")))
                    .transpose()?;
                (
                    (!user.is_empty()).then_some(user),
                    pass.filter(|p| !p.is_empty()),
                )
            }
        };
        let mut sentinels = Vec::new();
        for host in hosts.split(',') {
            let host = host.trim();
            if host.is_empty() {
                return Err(bad("empty sentinel address"));
            }
            let (name, port) = match host.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                    let port = p
                        .parse::<u16>()
                        .map_err(|_| bad("sentinel port is not a number"))?;
                    (h, port)
                }
                _ => (host, DEFAULT_SENTINEL_PORT),
            };
            let name = name.trim_start_matches('[').trim_end_matches(']');
            if name.is_empty() {
                return Err(bad("empty sentinel host"));
            }
            sentinels.push((name.to_owned(), port));
        }
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let master_name = segments
            .next()
            .map(percent_decode)
            .ok_or_else(|| {
                bad("the path must name the master: redis+sentinel://host:port/<master-name>")
            })?
            .ok_or_else(|| bad("bad escape in master name"))?;
        let db = match segments.next() {
            None => 0,
            Some(d) => d
                .parse::<i64>()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| bad("database after the master name must be a number"))?,
        };
        if segments.next().is_some() {
            return Err(bad(
                "too many path segments (expected /<master-name>[/<db>])",
            ));
        }
        Ok(Self {
            sentinels,
            master_name,
            username,
            password,
            db,
        })
    }

    /// A client that asks the sentinels for the master (`protocol`: of the data-node
    /// connections it builds).
    pub(crate) fn client(&self, protocol: redis::ProtocolVersion) -> RedisResult<SentinelClient> {
        let nodes = self
            .sentinels
            .iter()
            .map(|(h, p)| ConnectionAddr::Tcp(h.clone(), *p));
        let mut b =
            SentinelClientBuilder::new(nodes, &self.master_name, SentinelServerType::Master)?
                .set_client_to_redis_db(self.db)
                .set_client_to_redis_protocol(protocol);
        if let Some(u) = &self.username {
            b = b.set_client_to_redis_username(u);
        }
        if let Some(p) = &self.password {
            b = b.set_client_to_redis_password(p);
        }
        b.build()
    }
}

/// `%XX` escapes decoded; `None` for a malformed escape or invalid UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
