//! Section "storage": the data directory, the SQL database and the state store.

use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use tessera_store::redis::RedisConfig;

use super::file::RawConfig;
use super::value::{InvalidSetting, invalid};

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

/// `data_dir`, `database_url`, and the state store (`redis_url`, `redis_cluster`,
/// `redis_ca_file`, `redis_key_prefix`).
pub(super) struct Storage {
    pub(super) data_dir: PathBuf,
    pub(super) database_url: SecretString,
    pub(super) state_store: StateStoreSettings,
}

impl Storage {
    /// Defaults: `./tessera-data`, SQLite `tessera.db` in it, the memory store. Errors never
    /// repeat a URL (it may hold a password); the CA file is read to check it.
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, InvalidSetting> {
        let data_dir = raw
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("./tessera-data"));
        let database_url = raw
            .database_url
            .clone()
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
        Ok(Storage {
            data_dir,
            database_url: SecretString::from(database_url),
            state_store: state_store(raw)?,
        })
    }
}

/// The Redis connection(s) named by `redis_url`, not yet checked against
/// `redis_ca_file` and `redis_key_prefix`.
struct RedisUrls {
    urls: Vec<String>,
    cluster: bool,
}

fn state_store(raw: &RawConfig) -> Result<StateStoreSettings, InvalidSetting> {
    let redis = redis_urls(raw)?;
    let ca_file = match (&redis, &raw.redis_ca_file) {
        (_, None) => None,
        (None, Some(_)) => return Err(invalid("redis_ca_file", "set, but redis_url is not")),
        (Some(_), Some(path)) => {
            if let Err(e) = tessera_store::redis::tls_certificates(path) {
                return Err(invalid("redis_ca_file", e.to_string()));
            }
            Some(path.clone())
        }
    };
    let Some(RedisUrls { urls, cluster }) = redis else {
        return match raw.redis_key_prefix {
            Some(_) => Err(invalid("redis_key_prefix", "set, but redis_url is not")),
            None => Ok(StateStoreSettings::Memory),
        };
    };
    let key_prefix = raw
        .redis_key_prefix
        .clone()
        .unwrap_or_else(|| RedisConfig::DEFAULT_KEY_PREFIX.to_owned());
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
    Ok(StateStoreSettings::Redis {
        urls,
        cluster,
        ca_file,
        key_prefix,
    })
}

/// `redis_url` and `redis_cluster`; `None` for the memory store (unset or blank URL).
fn redis_urls(raw: &RawConfig) -> Result<Option<RedisUrls>, InvalidSetting> {
    let cluster = raw.redis_cluster.unwrap_or(false);
    match raw.redis_url.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(url) if tessera_store::redis::is_sentinel_url(url) => {
            // One URL naming every sentinel (comma-separated hosts): not split.
            if cluster {
                return Err(invalid(
                    "redis_url",
                    "a redis+sentinel:// URL cannot be used with TESSERA_REDIS_CLUSTER=true",
                ));
            }
            if let Err(e) = tessera_store::redis::check_sentinel_url(url) {
                return Err(invalid("redis_url", e));
            }
            Ok(Some(RedisUrls {
                urls: vec![url.to_owned()],
                cluster: false,
            }))
        }
        Some(urls) => {
            let urls: Vec<String> = urls
                .split(',')
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty())
                .collect();
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
            Ok(Some(RedisUrls { urls, cluster }))
        }
    }
}
