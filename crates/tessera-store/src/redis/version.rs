//! The oldest Redis the scripts run on, checked once when the store connects.

use super::stats::info_value;

/// Major version the scripts need: `rotate_refresh.lua` raises the index TTL with
/// `PEXPIRE … GT` (Redis 7.0).
const MIN_MAJOR: u64 = 7;

/// The server is older than the scripts need (the cause of
/// [`StoreError::Incompatible`](crate::StoreError::Incompatible)). Refused at connect, so that an old Redis is a
/// clear start-up error instead of every refresh failing with a script error.
#[derive(Debug, thiserror::Error)]
#[error(
    "Redis {found} is too old: Tessera needs Redis 7.0 or later (its scripts use PEXPIRE ... GT)"
)]
pub struct TooOld {
    found: String,
}

/// Checks the `redis_version` field of an `INFO server` reply. A reply that does not carry
/// a version Tessera can read passes (a proxy may hide it; the scripts would then report
/// their own errors): only a version known to be too old is refused.
pub(crate) fn check(info_server: &str) -> Result<(), TooOld> {
    let Some(found) = info_value(info_server, "redis_version").map(str::trim) else {
        return Ok(());
    };
    match found.split('.').next().and_then(|m| m.parse::<u64>().ok()) {
        Some(major) if major < MIN_MAJOR => Err(TooOld {
            found: found.to_owned(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_before_7_are_refused_and_unreadable_ones_pass() {
        let info = |v: &str| format!("# Server\r\nredis_version:{v}\r\nredis_mode:standalone\r\n");
        assert!(check(&info("7.0.15")).is_ok());
        assert!(check(&info("7.2.4")).is_ok());
        assert!(check(&info("8.0.0")).is_ok());
        let old = check(&info("6.2.14")).unwrap_err().to_string();
        assert!(old.contains("6.2.14") && old.contains("7.0"), "{old}");
        assert!(check(&info("5.0.7")).is_err());
        assert!(check("# Server\r\nredis_mode:standalone\r\n").is_ok());
        assert!(check(&info("unknown")).is_ok());
        assert!(check("").is_ok());
    }
}
