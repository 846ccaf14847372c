//! Section "revocation": how a revoked token is recognised, and what happens when the state
//! store cannot say.

use tessera_store::RevocationMode;

use super::choice::{Choice, choice_str};
use super::file::RawConfig;
use super::value::{InvalidSetting, choice};

/// Behaviour when the state store cannot be reached during a revocation check (`fail_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// Refuse with 503 (default): a revoked token is never accepted.
    Closed,
    /// Accept a token whose signature and claims verify; logged as a warning each time.
    Open,
}

impl Choice for FailMode {
    const SPELLINGS: &'static [(&'static str, Self)] =
        &[("closed", FailMode::Closed), ("open", FailMode::Open)];
}
choice_str!(FailMode);

/// `revocation_mode` (default `allowlist`), `fail_mode` (default `closed`).
pub(super) struct Revocation {
    pub(super) revocation_mode: RevocationMode,
    pub(super) fail_mode: FailMode,
}

impl Revocation {
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, InvalidSetting> {
        Ok(Revocation {
            revocation_mode: choice(
                "revocation_mode",
                &raw.revocation_mode,
                RevocationMode::Allowlist,
            )?,
            fail_mode: choice("fail_mode", &raw.fail_mode, FailMode::Closed)?,
        })
    }
}
