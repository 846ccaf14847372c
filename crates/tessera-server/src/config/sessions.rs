//! Section "sessions": how long a session lives, the refresh grace, how many per user.

use std::time::Duration;

use super::file::RawConfig;
use super::value::{InvalidSetting, duration, invalid};

/// `refresh_token_ttl`, `session_idle_timeout`, `refresh_reuse_grace`,
/// `max_sessions_per_user`.
pub(super) struct Sessions {
    pub(super) refresh_token_ttl: Duration,
    pub(super) session_idle_timeout: Duration,
    pub(super) refresh_reuse_grace: Duration,
    pub(super) max_sessions_per_user: Option<u32>,
}

impl Sessions {
    /// Defaults: `30d`, `7d` (both positive), `10s` (at most 5m), no limit (`0` is none).
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, InvalidSetting> {
        let refresh_token_ttl = duration("refresh_token_ttl", &raw.refresh_token_ttl, "30d")?;
        let session_idle_timeout =
            duration("session_idle_timeout", &raw.session_idle_timeout, "7d")?;
        if refresh_token_ttl.is_zero() || session_idle_timeout.is_zero() {
            return Err(invalid(
                "refresh_token_ttl",
                "session lifetimes must be positive",
            ));
        }
        let refresh_reuse_grace = duration("refresh_reuse_grace", &raw.refresh_reuse_grace, "10s")?;
        if refresh_reuse_grace > Duration::from_secs(300) {
            return Err(invalid("refresh_reuse_grace", "at most 5m"));
        }
        Ok(Sessions {
            refresh_token_ttl,
            session_idle_timeout,
            refresh_reuse_grace,
            max_sessions_per_user: raw.max_sessions_per_user.filter(|n| *n > 0),
        })
    }
}
