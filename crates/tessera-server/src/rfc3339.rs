//! RFC 3339 rendering of timestamps for API bodies.

use tessera_core::time::Timestamp;

/// `2026-11-26T20:22:29Z` (UTC, whole seconds).
pub fn format(t: Timestamp) -> String {
    humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(t.as_secs().max(0) as u64),
    )
    .to_string()
}
