//! [`GuardConfig`]: who issues the tokens, where the keys and the Redis are, how to fail.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tessera_core::keys::VerificationKeys;
use tessera_store::RevocationMode;
use tessera_store::redis::RedisConfig;

/// What to do when Redis cannot be reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FailMode {
    /// Refuse with 503 (never 200). The default.
    #[default]
    Closed,
    /// Accept a token whose signature and claims verify, logging a warning: a revoked token
    /// is then accepted until its `exp`. Only by explicit choice.
    Open,
}

/// Where the verification keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// Tessera's JWKS (`<issuer>/.well-known/jwks.json`), fetched at start, refetched when a
    /// token names an unknown `kid` (at most once per `refetch_interval`, so forged `kid`s
    /// cannot make the guard hammer the server) and every `refresh_every` (so retired keys
    /// leave).
    Jwks {
        /// The JWKS URL (`https://` in production).
        url: String,
        /// Minimum time between two fetches triggered by unknown `kid`s. Default 10 s.
        refetch_interval: Duration,
        /// Period of the background refresh. Default 5 min.
        refresh_every: Duration,
        /// Limit on one fetch. Default 5 s.
        timeout: Duration,
    },
    /// Fixed keys, e.g. a [`KeySet`](crate::KeySet) from a JWKS file, or a tessera-core
    /// `KeyRing` (the only way to verify HS256 tokens: an HMAC key is never published).
    Static(Arc<dyn VerificationKeys + Send + Sync>),
}

impl KeySource {
    /// A JWKS URL with the default intervals.
    pub fn jwks(url: impl Into<String>) -> Self {
        KeySource::Jwks {
            url: url.into(),
            refetch_interval: Duration::from_secs(10),
            refresh_every: Duration::from_secs(300),
            timeout: Duration::from_secs(5),
        }
    }

    /// Fixed keys.
    pub fn fixed(keys: impl VerificationKeys + Send + Sync + 'static) -> Self {
        KeySource::Static(Arc::new(keys))
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Jwks {
                url,
                refetch_interval,
                refresh_every,
                timeout,
            } => f
                .debug_struct("Jwks")
                .field("url", url)
                .field("refetch_interval", refetch_interval)
                .field("refresh_every", refresh_every)
                .field("timeout", timeout)
                .finish(),
            KeySource::Static(_) => f.write_str("Static(..)"),
        }
    }
}

/// The near-cache: tokens already seen live are not checked against Redis again until their
/// `exp` (or `max_age`), unless a revocation notice names them.
#[derive(Clone, Copy, Debug)]
pub struct NearCacheConfig {
    /// Most tokens remembered (quick_cache, approximate LRU). `0` disables the cache: every
    /// request is one round trip. Default 100 000.
    pub capacity: usize,
    /// Longest an entry is trusted, whatever the token's `exp`. Bounds what no notice
    /// announces: a session that dies of its idle timeout or absolute lifetime, or state lost
    /// in Redis without the subscription dropping. Default 60 s.
    pub max_age: Duration,
    /// How often the subscription connection is pinged; a ping unanswered within this time
    /// counts as a drop (flush and bypass). Default 1 s.
    pub ping_every: Duration,
}

impl Default for NearCacheConfig {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            max_age: Duration::from_secs(60),
            ping_every: Duration::from_secs(1),
        }
    }
}

/// Everything a [`Guard`](crate::Guard) needs. Build with [`GuardConfig::new`], then adjust
/// fields.
#[derive(Clone, Debug)]
pub struct GuardConfig {
    /// Expected `iss`: Tessera's `issuer` setting.
    pub issuer: String,
    /// Expected `aud`: Tessera's `audience` setting.
    pub audience: String,
    /// Verification keys.
    pub keys: KeySource,
    /// The Redis Tessera uses (same URLs, Cluster flag and key prefix; TLS and ACL users work
    /// as in the server). The guard runs only `check_access` and subscribes to
    /// `<prefix>revocations`: an ACL user needs `+evalsha +eval +script|load +subscribe
    /// +ping` on `~<prefix>*` and `&<prefix>revocations`.
    pub redis: RedisConfig,
    /// Must equal the server's `revocation_mode`. Default allowlist.
    pub revocation_mode: RevocationMode,
    /// Default [`FailMode::Closed`].
    pub fail_mode: FailMode,
    /// Near-cache settings.
    pub near_cache: NearCacheConfig,
    /// Clock-skew leeway for `exp`/`iat`/`nbf`, capped at 60 s. Default 30 s.
    pub leeway: Duration,
    /// Longest token accepted, in bytes. Default 4096.
    pub max_token_len: usize,
}

impl GuardConfig {
    /// A configuration with every default.
    pub fn new(
        issuer: impl Into<String>,
        audience: impl Into<String>,
        keys: KeySource,
        redis: RedisConfig,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            keys,
            redis,
            revocation_mode: RevocationMode::Allowlist,
            fail_mode: FailMode::Closed,
            near_cache: NearCacheConfig::default(),
            leeway: Duration::from_secs(30),
            max_token_len: tessera_core::token::verify::DEFAULT_MAX_TOKEN_LEN,
        }
    }
}
