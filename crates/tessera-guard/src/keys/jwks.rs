//! [`JwksKeys`]: Tessera's JWKS, fetched over HTTP and cached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::error::KeysError;
use super::set::KeySet;

/// A JWKS fetched from `url` and held as a [`KeySet`] snapshot.
///
/// Contract:
/// - [`current`](Self::current) is lock-free (an `ArcSwap` load): the hot path.
/// - [`refetch_for_unknown_kid`](Self::refetch_for_unknown_kid) fetches at most once per
///   `refetch_interval`, whatever the number of callers or forged `kid`s; concurrent callers
///   wait for the one fetch in flight and share its result. A failed fetch counts too (so a
///   down server is not hammered) and keeps the previous keys.
/// - [`refresh`](Self::refresh) fetches unconditionally (the background refresh); a failure
///   keeps the previous keys.
pub struct JwksKeys {
    url: String,
    client: reqwest::Client,
    current: ArcSwap<KeySet>,
    refetch_interval: Duration,
    /// When the last fetch started (any kind); `None` before the first.
    last_fetch: Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for JwksKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksKeys")
            .field("url", &self.url)
            .field("keys", &*self.current.load())
            .finish_non_exhaustive()
    }
}

impl JwksKeys {
    /// A cache of the JWKS at `url`, empty until the first fetch; each fetch is bounded by
    /// `timeout`. Fails only when the HTTP client cannot be built.
    pub fn new(
        url: String,
        refetch_interval: Duration,
        timeout: Duration,
    ) -> Result<Self, KeysError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(KeysError::Client)?;
        Ok(Self {
            url,
            client,
            current: ArcSwap::from_pointee(KeySet::default()),
            refetch_interval,
            last_fetch: Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
    }

    /// The keys as last fetched.
    pub fn current(&self) -> Arc<KeySet> {
        self.current.load_full()
    }

    /// How many fetches were attempted (successful or not).
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// Called when a token names a `kid` that `seen` (the snapshot it was checked against)
    /// does not have. Returns a newer snapshot when there is one — fetched now, or by a
    /// concurrent caller since `seen` — and `None` when the rate limit forbids a fetch or the
    /// fetch failed.
    pub async fn refetch_for_unknown_kid(&self, seen: &Arc<KeySet>) -> Option<Arc<KeySet>> {
        let mut last = self.last_fetch.lock().await;
        let now = self.current.load_full();
        if !Arc::ptr_eq(&now, seen) {
            return Some(now);
        }
        if last.is_some_and(|t| t.elapsed() < self.refetch_interval) {
            return None;
        }
        *last = Some(Instant::now());
        match self.fetch().await {
            Ok(()) => Some(self.current.load_full()),
            Err(e) => {
                tracing::warn!(error = %e, cause = ?std::error::Error::source(&e), "JWKS refetch failed; keeping the previous keys");
                None
            }
        }
    }

    /// Fetches now, replacing the keys on success.
    pub async fn refresh(&self) -> Result<(), KeysError> {
        let mut last = self.last_fetch.lock().await;
        *last = Some(Instant::now());
        self.fetch().await
    }

    async fn fetch(&self) -> Result<(), KeysError> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let err = |source| KeysError::Fetch {
            url: self.url.clone(),
            source,
        };
        let set: JwkSet = self
            .client
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(err)?
            .json()
            .await
            .map_err(err)?;
        let keys = KeySet::from_jwks(&set);
        tracing::debug!(keys = keys.len(), "JWKS fetched");
        self.current.store(Arc::new(keys));
        Ok(())
    }
}
