//! The key ring in use, swappable while serving.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tessera_core::keys::{KeyRing, SigningAlg};
use tessera_core::time::Timestamp;

use super::file::{KeyFile, KeyFileError};

/// The current [`KeyRing`]. Readers take a snapshot ([`LiveKeys::current`]); a background
/// task reloads the key file when it changes, so `tessera keys rotate` takes effect without a
/// restart, and drops retired keys once their retention has passed.
pub struct LiveKeys {
    ring: ArcSwap<KeyRing>,
    source: Source,
}

struct Source {
    file: PathBuf,
    pem: Option<PathBuf>,
    alg: SigningAlg,
    retention: Duration,
}

impl LiveKeys {
    /// Wraps a loaded ring.
    pub fn new(
        ring: KeyRing,
        file: PathBuf,
        pem: Option<PathBuf>,
        alg: SigningAlg,
        retention: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            ring: ArcSwap::from_pointee(ring),
            source: Source {
                file,
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

    /// Re-reads the key file and swaps the ring in.
    pub fn reload(&self, now: Timestamp) -> Result<(), KeyFileError> {
        if let Some(file) = KeyFile::read(&self.source.file)? {
            let ring = file.ring(
                self.source.pem.as_deref(),
                self.source.alg,
                self.source.retention,
                now,
            )?;
            self.ring.store(Arc::new(ring));
        }
        Ok(())
    }

    /// Polls the key file every `every` and reloads on change (and at least every minute, to
    /// drop expired retired keys). Runs until the process ends.
    #[allow(clippy::disallowed_methods)] // a background task: an edge, reads the clock and passes `now` in
    pub fn spawn_watcher(self: &Arc<Self>, every: Duration) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            let mut last = modified(&this.source.file);
            let mut ticks: u32 = 0;
            loop {
                tokio::time::sleep(every).await;
                ticks = ticks.wrapping_add(1);
                let now_mod = modified(&this.source.file);
                let periodic = every.saturating_mul(ticks) >= Duration::from_secs(60);
                if now_mod != last || periodic {
                    if periodic {
                        ticks = 0;
                    }
                    last = now_mod;
                    match this.reload(Timestamp::now()) {
                        Ok(()) => {
                            tracing::debug!(kid = %this.current().active_kid(), "key ring reloaded")
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "key ring reload failed; keeping the current keys")
                        }
                    }
                }
            }
        });
    }
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
