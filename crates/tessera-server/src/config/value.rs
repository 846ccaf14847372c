//! The error of a setting that cannot be used, and the parsers every section shares.

use std::time::Duration;

use super::choice::Choice;
use super::written::Written;

/// A setting with a value that cannot be used. Shows as `invalid setting <key>: <reason>`,
/// which is what `tessera serve` and `tessera config check` print before exiting.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {key}: {reason}")]
pub struct InvalidSetting {
    /// The key (TOML name).
    pub key: &'static str,
    /// What is wrong. Never repeats a secret value.
    pub reason: String,
}

/// An [`InvalidSetting`] for `key`.
pub(super) fn invalid(key: &'static str, reason: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        key,
        reason: reason.into(),
    }
}

/// A human duration (`15m`, `10s`, `30d`), `default` when unset.
pub(super) fn duration(
    key: &'static str,
    v: &Option<Written<Duration>>,
    default: &str,
) -> Result<Duration, InvalidSetting> {
    let s = v.as_deref().unwrap_or(default).trim();
    humantime::parse_duration(s).map_err(|e| invalid(key, format!("{s:?}: {e}")))
}

/// One of the words of `T`, `default` when unset.
pub(super) fn choice<T: Choice>(
    key: &'static str,
    v: &Option<Written<T>>,
    default: T,
) -> Result<T, InvalidSetting> {
    match v.as_deref() {
        None => Ok(default),
        Some(s) => T::parse_choice(s).map_err(|e| invalid(key, e.to_string())),
    }
}

/// A trimmed, non-empty text, `None` when unset or blank.
pub(super) fn text(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}
