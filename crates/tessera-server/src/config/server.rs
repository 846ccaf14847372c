//! Section "server": where HTTP is served and how much work a request may ask for.

use std::net::SocketAddr;
use std::time::Duration;

use super::file::RawConfig;
use super::value::{InvalidSetting, duration, invalid};

/// `listen`, `max_body_bytes`, `header_read_timeout`, `password_hash_concurrency`.
pub(super) struct Server {
    pub(super) listen: SocketAddr,
    pub(super) max_body_bytes: usize,
    pub(super) header_read_timeout: Duration,
    pub(super) password_hash_concurrency: usize,
}

impl Server {
    /// Defaults: `127.0.0.1:8080`; 64 KiB, clamped to 1 KiB–16 MiB; 75 s (1 s – 10 min:
    /// longer than the 60 s for which proxies' upstream pools keep an idle connection by
    /// default, since the timeout also ends an idle keep-alive connection, and one a proxy
    /// reuses just as it closes costs a 502); one hash per CPU (at least one).
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
            header_read_timeout: {
                let t = duration("header_read_timeout", &raw.header_read_timeout, "75s")?;
                if t < Duration::from_secs(1) || t > Duration::from_secs(600) {
                    return Err(invalid("header_read_timeout", "must be between 1s and 10m"));
                }
                t
            },
            password_hash_concurrency: raw.password_hash_concurrency.unwrap_or(cpus).max(1),
        })
    }
}
