//! Section "server": where HTTP is served and how much work a request may ask for.

use std::net::SocketAddr;

use super::file::RawConfig;
use super::value::{InvalidSetting, invalid};

/// `listen`, `max_body_bytes`, `password_hash_concurrency`.
pub(super) struct Server {
    pub(super) listen: SocketAddr,
    pub(super) max_body_bytes: usize,
    pub(super) password_hash_concurrency: usize,
}

impl Server {
    /// Defaults: `127.0.0.1:8080`; 64 KiB, clamped to 1 KiB–16 MiB; one hash per CPU (at
    /// least one).
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, InvalidSetting> {
        let listen_s = raw.listen.as_deref().unwrap_or("127.0.0.1:8080");
        let listen: SocketAddr = listen_s
            .parse()
            .map_err(|e| invalid("listen", format!("{listen_s:?}: {e}")))?;
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Ok(Server {
            listen,
            max_body_bytes: raw
                .max_body_bytes
                .unwrap_or(64 * 1024)
                .clamp(1024, 16 * 1024 * 1024),
            password_hash_concurrency: raw.password_hash_concurrency.unwrap_or(cpus).max(1),
        })
    }
}
