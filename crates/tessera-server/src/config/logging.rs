//! Section "logging": the log format (the level comes from `RUST_LOG`).

use super::choice::{Choice, choice_str};
use super::file::RawConfig;
use super::value::{InvalidSetting, choice};

/// Log output format (`log_format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Choice for LogFormat {
    const SPELLINGS: &'static [(&'static str, Self)] =
        &[("pretty", LogFormat::Pretty), ("json", LogFormat::Json)];
}
choice_str!(LogFormat);

/// `log_format`; unset: `pretty` when `is_tty` (stderr is a terminal), else `json`.
pub(super) fn log_format(raw: &RawConfig, is_tty: bool) -> Result<LogFormat, InvalidSetting> {
    let default = if is_tty {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    };
    choice("log_format", &raw.log_format, default)
}
