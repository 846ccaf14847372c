//! Section "durable": the durable SQL copy of the session state (docs/ARCHITECTURE.md,
//! "Durable state").

use std::time::Duration;

use super::choice::Switch;
use super::file::RawConfig;
use super::value::{InvalidSetting, choice, duration, invalid};

/// `durable_sessions` (default `on`), `durable_lag` (default `1s`, between 10 ms and 1 min),
/// `security_event_retention` (default `365d`).
pub(super) struct Durable {
    pub(super) durable_sessions: bool,
    pub(super) durable_lag: Duration,
    pub(super) security_event_retention: Duration,
}

impl Durable {
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, InvalidSetting> {
        let durable_lag = duration("durable_lag", &raw.durable_lag, "1s")?;
        if durable_lag < Duration::from_millis(10) || durable_lag > Duration::from_secs(60) {
            return Err(invalid("durable_lag", "must be between 10ms and 1m"));
        }
        Ok(Durable {
            durable_sessions: choice("durable_sessions", &raw.durable_sessions, Switch::On)?
                .is_on(),
            durable_lag,
            security_event_retention: duration(
                "security_event_retention",
                &raw.security_event_retention,
                "365d",
            )?,
        })
    }
}
