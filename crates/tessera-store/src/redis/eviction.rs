//! `maxmemory-policy`, read once when the store connects.
//!
//! Tessera's keys are not a cache: an evicted denylist entry accepts a revoked token again,
//! an evicted lockout or rate-limit bucket lets guessing resume, an evicted replay marker
//! accepts a used TOTP code or reset token twice, an evicted session index forgets sessions.
//! Only `noeviction` (writes fail with an OOM error, answered 503, instead) keeps those
//! guarantees, so any other policy is named in a start-up warning. The policy is read from
//! `INFO memory` (`maxmemory_policy`), not `CONFIG GET`, which the ACL rule set does not grant.

use super::conn::{Conn, Node};
use super::stats::info_value;

/// The only policy that never drops Tessera's keys.
const SAFE: &str = "noeviction";

/// What the warning says (and the docs repeat).
const WHY: &str = "Redis may evict Tessera's keys under memory pressure: denylist entries \
    (revoked tokens are accepted again), lockout and rate-limit buckets, replay markers and \
    session indexes. Set maxmemory-policy noeviction";

/// `maxmemory_policy` of an `INFO memory` reply, if it carries one.
pub(crate) fn policy(info_memory: &str) -> Option<&str> {
    info_value(info_memory, "maxmemory_policy")
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// The policy of every primary whose `INFO memory` can be read (an ACL or proxy may deny
/// `INFO`: such a primary is skipped, nothing is assumed).
pub(crate) async fn policies(conn: &Conn) -> Vec<(Node, String)> {
    let Ok(primaries) = conn.primaries().await else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for node in primaries {
        let Ok(reply) = conn
            .on_node(&node, redis::cmd("INFO").arg("memory").clone())
            .await
        else {
            continue;
        };
        let Ok(info) = redis::from_redis_value::<String>(reply) else {
            continue;
        };
        if let Some(p) = policy(&info) {
            found.push((node, p.to_owned()));
        }
    }
    found
}

/// Logs one warning per primary whose policy is not `noeviction`; returns how many.
pub(crate) fn warn_unless_noeviction(policies: &[(Node, String)]) -> usize {
    let mut warned = 0;
    for (node, policy) in policies.iter().filter(|(_, p)| p != SAFE) {
        let node = match node {
            Node::Standalone => "standalone".to_owned(),
            Node::Primary { host, port } => format!("{host}:{port}"),
        };
        tracing::warn!(maxmemory_policy = %policy, node, "Redis maxmemory-policy is {policy}, not {SAFE}: {WHY}");
        warned += 1;
    }
    warned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_read_from_info_memory_and_only_noeviction_is_quiet() {
        let info = |p: &str| format!("# Memory\r\nused_memory:1024\r\nmaxmemory_policy:{p}\r\n");
        assert_eq!(policy(&info("allkeys-lru")), Some("allkeys-lru"));
        assert_eq!(policy(&info("noeviction")), Some("noeviction"));
        assert_eq!(policy("# Memory\r\nused_memory:1\r\n"), None);
        assert_eq!(policy(""), None);
        let nodes = vec![
            (Node::Standalone, "noeviction".to_owned()),
            (
                Node::Primary {
                    host: "10.0.0.1".into(),
                    port: 7000,
                },
                "volatile-ttl".to_owned(),
            ),
        ];
        assert_eq!(warn_unless_noeviction(&nodes), 1);
        assert_eq!(warn_unless_noeviction(&nodes[..1]), 0);
    }
}
