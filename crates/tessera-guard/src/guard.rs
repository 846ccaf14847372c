//! [`Guard`]: verify a token, then ask the near-cache or Redis whether it is still live.
//! Depends on neither [`extract`](crate::extract) nor [`layer`](crate::layer) (they depend on
//! it); [`Guard::layer`] is defined in `layer.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderMap, header};
use tessera_core::keys::VerificationKeys;
use tessera_core::time::Timestamp;
use tessera_core::token::{AccessClaims, VerifiedTokens, Verifier, VerifyError};
use tessera_store::redis::{ConnectingStore, revocations_channel, tls_certificates};
use tessera_store::{AccessCheck, AccessStatus, RevocationCheck, RevocationMode};
use tokio::task::AbortHandle;

use crate::cache::NearCache;
use crate::config::{FailMode, GuardConfig, KeySource};
use crate::error::{BuildError, GuardError};
use crate::keys::JwksKeys;
use crate::subscriber::{self, Subscription};
use crate::verified::VerifiedToken;

enum Keys {
    Static(Arc<dyn VerificationKeys + Send + Sync>),
    Jwks(Arc<JwksKeys>),
}

/// A key set the guard verifies under, as the verified-token cache knows it.
type AnyKeys = dyn VerificationKeys + Send + Sync;

struct Inner {
    verifier: Verifier,
    keys: Keys,
    /// Tokens already verified under the current key set (static, or the JWKS snapshot):
    /// a repeated token skips the signature check; the revocation check still runs.
    verified: VerifiedTokens<AnyKeys>,
    /// Only the revocation check: the guard never changes store state.
    store: Arc<dyn RevocationCheck>,
    mode: RevocationMode,
    fail_mode: FailMode,
    cache: Arc<NearCache>,
    tasks: Vec<AbortHandle>,
    cache_hits: AtomicU64,
    store_checks: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Accepts Tessera access tokens. Cheap to clone (clones share everything); background
/// tasks (revocation subscription, JWKS refresh) stop when the last clone is dropped.
///
/// A token is accepted when, in order:
/// 1. it passes tessera-core's `Verifier` — the server's own rules (pinned algorithm per
///    `kid`, no `none`/`jku`/`jwk`/`x5u`/`crit`, `typ at+jwt`, `iss`, `aud`, required claims,
///    time with bounded leeway, size limit); an unknown `kid` triggers one rate-limited JWKS
///    refetch and a second attempt;
/// 2. the near-cache holds it as live (no round trip), or else the store's `check_access`
///    (a pipeline of reads on Tessera's Redis, one round trip) answers *active* — the answer is then
///    cached (see the near-cache invariants in the crate docs).
///
/// Redis unreachable: [`GuardError::Unavailable`] (503), or with [`FailMode::Open`] the
/// verified token is accepted and a warning logged. Fingerprint binding (`fgp`) is not
/// checked: a resource server never sees Tessera's fingerprint cookie (the server's own
/// `verify_live` does the same).
#[derive(Clone)]
pub struct Guard {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("verifier", &self.inner.verifier)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Counters and state, for health pages, metrics and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuardStats {
    /// The revocation subscription is confirmed up (the near-cache is in use).
    pub subscribed: bool,
    /// How many times the subscription was confirmed (1 + the number of recoveries).
    pub subscriptions: u64,
    /// Entries in the near-cache.
    pub cached: usize,
    /// Requests answered from the near-cache.
    pub cache_hits: u64,
    /// Requests that asked Redis (`check_access` calls, failed ones included).
    pub store_checks: u64,
    /// JWKS fetches attempted (0 with static keys).
    pub jwks_fetches: u64,
}

impl Guard {
    /// Builds the guard and starts its background tasks: the Redis connection (when Redis is
    /// unreachable the guard still starts — every check fails closed or open as configured —
    /// and connects in the background; a Redis older than 7.0 fails with
    /// [`BuildError::Redis`]), the revocation subscription, and with a JWKS the
    /// first fetch (a failure is logged; the next token with an unknown `kid` retries) and
    /// the periodic refresh. Must run inside a tokio runtime.
    pub async fn connect(config: GuardConfig) -> Result<Self, BuildError> {
        let redis = config.redis.clone();
        if redis.urls.is_empty() {
            return Err(BuildError::Redis("no redis url given".into()));
        }
        if redis.key_prefix.contains(['{', '}']) {
            return Err(BuildError::Redis(
                "key prefix must not contain '{' or '}'".into(),
            ));
        }
        let tls = match &redis.tls_ca_file {
            Some(path) => {
                Some(tls_certificates(path).map_err(|e| BuildError::Redis(e.to_string()))?)
            }
            None => None,
        };
        let store = ConnectingStore::connect(redis.clone(), None)
            .await
            .map_err(|e| BuildError::Redis(e.chain()))?;
        let mut tasks = Vec::new();
        let keys = match &config.keys {
            KeySource::Static(k) => Keys::Static(Arc::clone(k)),
            KeySource::Jwks {
                url,
                refetch_interval,
                refresh_every,
                timeout,
            } => {
                let jwks = Arc::new(
                    JwksKeys::new(url.clone(), *refetch_interval, *timeout)
                        .map_err(BuildError::Keys)?,
                );
                if let Err(e) = jwks.refresh().await {
                    tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "initial JWKS fetch failed");
                }
                let every = *refresh_every;
                let j = Arc::clone(&jwks);
                tasks.push(
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(every);
                        tick.tick().await;
                        loop {
                            tick.tick().await;
                            if let Err(e) = j.refresh().await {
                                tracing::warn!(error = %e, "periodic JWKS refresh failed; keeping the previous keys");
                            }
                        }
                    })
                    .abort_handle(),
                );
                Keys::Jwks(jwks)
            }
        };
        let cache = Arc::new(NearCache::new(
            config.near_cache.capacity,
            config.near_cache.max_age,
        ));
        if config.near_cache.capacity > 0 {
            let sub = Subscription {
                urls: redis.urls.clone(),
                channel: revocations_channel(&redis.key_prefix),
                connect_timeout: redis.connect_timeout,
                ping_every: config.near_cache.ping_every,
                tls,
            };
            tasks.push(tokio::spawn(subscriber::run(sub, Arc::clone(&cache))).abort_handle());
        }
        Ok(Self {
            inner: Arc::new(Inner {
                verifier: Verifier::new(config.issuer, config.audience)
                    .with_leeway(config.leeway)
                    .with_max_len(config.max_token_len),
                keys,
                verified: VerifiedTokens::default(),
                store,
                mode: config.revocation_mode,
                fail_mode: config.fail_mode,
                cache,
                tasks,
                cache_hits: AtomicU64::new(0),
                store_checks: AtomicU64::new(0),
            }),
        })
    }

    /// Authenticates a request by its `Authorization: Bearer` header.
    pub async fn authenticate_headers(
        &self,
        headers: &HeaderMap,
        now: Timestamp,
    ) -> Result<VerifiedToken, GuardError> {
        let token = bearer(headers)?;
        let claims = self.authenticate(token, now).await?;
        Ok(VerifiedToken::new(claims, token))
    }

    /// Authenticates one token at `now` (see the type's docs for the rules).
    pub async fn authenticate(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<AccessClaims, GuardError> {
        let claims = self
            .verify(token, now)
            .await
            .map_err(GuardError::InvalidToken)?;
        let inner = &*self.inner;
        if inner.cache.hit(&claims, now) {
            inner.cache_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(claims);
        }
        let ticket = inner.cache.ticket();
        inner.store_checks.fetch_add(1, Ordering::Relaxed);
        let check = AccessCheck {
            user: claims.sub,
            session: claims.sid,
            jti: claims.jti,
            token_version: claims.ver,
        };
        match inner.store.check_access(check, inner.mode, now).await {
            Ok(AccessStatus::Active) => {
                if let Some(t) = ticket {
                    inner.cache.remember(t, &claims, now);
                }
                Ok(claims)
            }
            Ok(AccessStatus::Revoked) => Err(GuardError::Revoked),
            Err(e) if e.is_unavailable() && inner.fail_mode == FailMode::Open => {
                // While the store's circuit breaker is open every request takes this path: the
                // breaker logs its opening and closing once; one line per request would flood.
                if e.is_breaker_open() {
                    tracing::debug!(
                        "state store's circuit breaker open: accepting a verified token (fail-open)"
                    );
                } else {
                    tracing::warn!(error = %e, "state store unavailable: accepting a verified token (fail-open)");
                }
                Ok(claims)
            }
            Err(e) => Err(GuardError::Unavailable(e)),
        }
    }

    /// Signature, header rules and claims only, with one rate-limited JWKS refetch on an
    /// unknown `kid`. A token already verified under the current key set is not verified
    /// again (`tessera_core::token::verified`: keyed by the exact token, until its `exp`,
    /// forgotten when the key set is replaced).
    async fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, VerifyError> {
        let inner = &*self.inner;
        let verify = |keys: &Arc<AnyKeys>| inner.verified.verify(&inner.verifier, keys, token, now);
        match &inner.keys {
            Keys::Static(k) => verify(k),
            Keys::Jwks(jwks) => {
                let seen = jwks.current();
                match verify(&(seen.clone() as Arc<AnyKeys>)) {
                    Err(VerifyError::UnknownKey) => match jwks.refetch_for_unknown_kid(&seen).await
                    {
                        Some(fresh) => verify(&(fresh as Arc<AnyKeys>)),
                        None => Err(VerifyError::UnknownKey),
                    },
                    other => other,
                }
            }
        }
    }

    /// Current counters.
    pub fn stats(&self) -> GuardStats {
        let inner = &*self.inner;
        GuardStats {
            subscribed: inner.cache.is_live(),
            subscriptions: inner.cache.subscriptions(),
            cached: inner.cache.len(),
            cache_hits: inner.cache_hits.load(Ordering::Relaxed),
            store_checks: inner.store_checks.load(Ordering::Relaxed),
            jwks_fetches: match &inner.keys {
                Keys::Jwks(j) => j.fetches(),
                Keys::Static(_) => 0,
            },
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
/// Missing header or another scheme: [`GuardError::MissingToken`]; an empty or non-ASCII
/// value: [`VerifyError::Malformed`].
fn bearer(headers: &HeaderMap) -> Result<&str, GuardError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(GuardError::MissingToken);
    };
    let malformed = GuardError::InvalidToken(VerifyError::Malformed);
    let value = value.to_str().map_err(|_| malformed)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(GuardError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(GuardError::InvalidToken(VerifyError::Malformed));
    }
    Ok(token)
}
