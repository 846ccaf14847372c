//! Section "master key": the secret that seals the keys stored in SQL.

use std::fmt;
use std::path::PathBuf;

use super::file::RawConfig;
use super::value::{InvalidSetting, invalid, text};
use crate::keys::MasterKey;

/// Where the master key comes from (see [`crate::keys::master`]).
#[derive(Clone)]
pub enum MasterKeySetting {
    /// Neither `master_key` nor `master_key_file`: `<data dir>/master.key`, generated on the
    /// first start against a database without keys (the embedded default).
    Generated,
    /// `master_key` (`TESSERA_MASTER_KEY`), validated.
    Value(MasterKey),
    /// `master_key_file` (`TESSERA_MASTER_KEY_FILE`): read at start.
    File(PathBuf),
}

impl fmt::Debug for MasterKeySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MasterKeySetting::Generated => f.write_str("Generated"),
            MasterKeySetting::Value(_) => f.write_str("Value(<redacted>)"),
            MasterKeySetting::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// `master_key` and `master_key_file` (at most one). The value's encoding is checked here
/// (32 random bytes in base64url), so `tessera config check` refuses a weak one; the file
/// is read at start.
pub(super) fn master_key(raw: &RawConfig) -> Result<MasterKeySetting, InvalidSetting> {
    let value = text(&raw.master_key);
    let file = raw
        .master_key_file
        .clone()
        .filter(|p| !p.as_os_str().is_empty());
    match (value, file) {
        (Some(_), Some(_)) => Err(invalid(
            "master_key",
            "set master_key (TESSERA_MASTER_KEY) or master_key_file (TESSERA_MASTER_KEY_FILE), not both",
        )),
        (Some(v), None) => MasterKey::parse(&v)
            .map(MasterKeySetting::Value)
            .map_err(|e| invalid("master_key", e.to_string())),
        (None, Some(p)) => Ok(MasterKeySetting::File(p)),
        (None, None) => Ok(MasterKeySetting::Generated),
    }
}
