//! Section "second factor": how long a sign-in challenge and a trusted device last.

use std::time::Duration;

use super::file::RawConfig;
use super::value::{InvalidSetting, duration};

/// `trusted_device_ttl` (default `30d`), `mfa_challenge_ttl` (default `5m`, clamped to
/// 1s–1h).
pub(super) struct Mfa {
    pub(super) trusted_device_ttl: Duration,
    pub(super) mfa_challenge_ttl: Duration,
}

impl Mfa {
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, InvalidSetting> {
        Ok(Mfa {
            trusted_device_ttl: duration("trusted_device_ttl", &raw.trusted_device_ttl, "30d")?,
            mfa_challenge_ttl: duration("mfa_challenge_ttl", &raw.mfa_challenge_ttl, "5m")?
                .clamp(Duration::from_secs(1), Duration::from_secs(3600)),
        })
    }
}
