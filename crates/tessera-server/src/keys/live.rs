//! The key ring in use, swappable while serving, following the database.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use tessera_core::keys::{KeyRing, SigningAlg};
use tessera_core::time::Timestamp;

use super::startup::{KeyStartError, ring};
use super::vault::KeyVault;

/// How often the ring is rebuilt even without a change, to drop retired keys whose
/// retention has passed.
const REBUILD_EVERY: Duration = Duration::from_secs(60);

/// The current [`KeyRing`]. Readers take a snapshot ([`LiveKeys::current`]); a background
/// task polls the database's ring generation (one indexed single-row read) and reloads when
/// it changed, so `tessera keys rotate` run anywhere reaches every instance within one poll
/// interval; the ring is also rebuilt every minute to drop retired keys past their retention.
pub struct LiveKeys {
    ring: ArcSwap<KeyRing>,
    generation: AtomicI64,
    source: Source,
}

struct Source {
    vault: KeyVault,
    pem: Option<PathBuf>,
    alg: SigningAlg,
    retention: Duration,
}

impl LiveKeys {
    /// Wraps a loaded ring, read at `generation` of `vault`.
    pub fn new(
        ring: KeyRing,
        vault: KeyVault,
        generation: i64,
        pem: Option<PathBuf>,
        alg: SigningAlg,
        retention: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            ring: ArcSwap::from_pointee(ring),
            generation: AtomicI64::new(generation),
            source: Source {
                vault,
                pem,
                alg,
                retention,
            },
        })
    }

    /// A snapshot of the ring.
    pub fn current(&self) -> Arc<KeyRing> {
        self.ring.load_full()
    }

    /// The database generation the ring was last read at.
    pub fn generation(&self) -> i64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// Re-reads the stored keys and swaps the ring in.
    pub async fn reload(&self, now: Timestamp) -> Result<(), KeyStartError> {
        if let Some(keys) = self.source.vault.load().await? {
            let ring = ring(
                &keys.signing,
                self.source.pem.as_deref(),
                self.source.alg,
                self.source.retention,
                now,
            )?;
            self.ring.store(Arc::new(ring));
            self.generation.store(keys.generation, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Polls the ring generation every `every` and reloads on change (and every minute).
    /// Runs until the process ends; a failed poll keeps the current keys and is logged.
    #[allow(clippy::disallowed_methods)] // a background task: an edge, reads the clock and passes `now` in
    pub fn spawn_watcher(self: &Arc<Self>, every: Duration) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut since_rebuild = Duration::ZERO;
            loop {
                tokio::time::sleep(every).await;
                since_rebuild = since_rebuild.saturating_add(every);
                let changed = match this.source.vault.generation().await {
                    Ok(g) => g.is_some_and(|g| g != this.generation()),
                    Err(e) => {
                        tracing::warn!(error = %e, "key ring generation poll failed; keeping the current keys");
                        continue;
                    }
                };
                if !changed && since_rebuild < REBUILD_EVERY {
                    continue;
                }
                since_rebuild = Duration::ZERO;
                match this.reload(Timestamp::now()).await {
                    Ok(()) if changed => tracing::info!(
                        kid = %this.current().active_kid(),
                        generation = this.generation(),
                        "key ring reloaded from the database"
                    ),
                    Ok(()) => {}
                    Err(e) => {
                        tracing::error!(error = %e, "key ring reload failed; keeping the current keys")
                    }
                }
            }
        });
    }
}
