//! The global statistics hash `<prefix>stats` and how [`StoreStats`] is read from it.
//!
//! Fields (integers): `s` live sessions, `g` unexpired access grants of live sessions, `r`
//! access tokens revoked (monotonic), `t` when the last reconciliation finished (ms).
//! `s` and `g` are moved by `HINCRBY` right after each script from the changes the script
//! reports, and overwritten by each reconciliation pass with the totals it counted; `r` is
//! only ever incremented.

use std::collections::BTreeMap;

use redis::{RedisResult, Value};

use super::conn::Conn;
use super::keys::stats_key;
use crate::model::StoreStats;

/// Field of live sessions.
pub(crate) const SESSIONS: &str = "s";
/// Field of unexpired access grants.
pub(crate) const GRANTS: &str = "g";
/// Field of revoked access tokens.
pub(crate) const REVOKED: &str = "r";
/// Field of the instant (ms) the last reconciliation pass finished.
pub(crate) const RECONCILED_AT: &str = "t";

/// Reads the counters (one `HMGET`) and, per primary, `INFO memory` and `DBSIZE`.
pub(crate) async fn read(conn: &Conn, prefix: &str) -> RedisResult<StoreStats> {
    let mut c = conn.clone();
    let fields: Vec<Option<i64>> = redis::cmd("HMGET")
        .arg(stats_key(prefix))
        .arg(SESSIONS)
        .arg(GRANTS)
        .arg(REVOKED)
        .arg(RECONCILED_AT)
        .query_async(&mut c)
        .await?;
    let get = |k: usize| fields.get(k).copied().flatten();
    // Best-effort counters can drift below zero; never report that.
    let count = |k: usize| u64::try_from(get(k).unwrap_or(0)).unwrap_or(0);

    let primaries = conn.primaries().await?;
    let (mut used_memory, mut keys) = (0u64, 0u64);
    for node in &primaries {
        let info = conn
            .on_node(node, redis::cmd("INFO").arg("memory").clone())
            .await?;
        let info: String = redis::from_redis_value(info)?;
        used_memory += info_field(&info, "used_memory").unwrap_or(0);
        let size = conn.on_node(node, redis::cmd("DBSIZE")).await?;
        keys += match size {
            Value::Int(n) => u64::try_from(n).unwrap_or(0),
            _ => 0,
        };
    }
    let mut backend = BTreeMap::from([
        ("used_memory".to_owned(), used_memory.to_string()),
        ("keys".to_owned(), keys.to_string()),
        ("primaries".to_owned(), primaries.len().to_string()),
    ]);
    if let Some(t) = get(3) {
        backend.insert("stats_reconciled_at_ms".to_owned(), t.to_string());
    }
    Ok(StoreStats {
        sessions_active: count(0),
        access_tokens_active: count(1),
        revoked_tokens: count(2),
        backend,
    })
}

/// The value of `name:<value>` in an `INFO` reply.
pub(crate) fn info_value<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines().find_map(|line| {
        let (k, v) = line.trim_end().split_once(':')?;
        (k == name).then_some(v)
    })
}

/// `name:<integer>` from an `INFO` section.
fn info_field(info: &str, name: &str) -> Option<u64> {
    info_value(info, name)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::super::conn::Node;
    use super::*;

    #[test]
    fn info_fields_are_parsed() {
        let info = "# Memory\r\nused_memory:1234\r\nused_memory_human:1.21K\r\n";
        assert_eq!(info_field(info, "used_memory"), Some(1234));
        assert_eq!(info_field(info, "used_memory_human"), None);
        assert_eq!(info_field(info, "nope"), None);
    }

    #[test]
    fn node_kinds_are_ordered() {
        let a = Node::Primary {
            host: "a".into(),
            port: 1,
        };
        assert!(Node::Standalone < a);
    }
}
