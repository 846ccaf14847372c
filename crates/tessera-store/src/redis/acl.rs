//! The Redis ACL rules Tessera needs ([`acl_rules`]): for operators who give Tessera (the
//! server, the CLI and every guard) a user of its own rather than the default user.
//!
//! Keys: only the configured prefix (`~<prefix>*`). Channels: only the revocation channel
//! (`&<prefix>revocations`). Commands: the ones the store and the guard send, and the ones
//! the Lua scripts call (a script runs with the permissions of the user that sent
//! `EVALSHA`):
//! - connection: `PING`, `AUTH`, `HELLO` (RESP3 handshake of the guard's subscription);
//! - scripts: `EVALSHA`, `SCRIPT LOAD` (the reload after `NOSCRIPT`);
//! - plain reads and writes: `GET`, `EXISTS`, `HGET`, `HMGET`, `HGETALL`, `HDEL`, `HSET`,
//!   `HINCRBY`, `DEL`, `ZRANGE` (see the key schema in `mod.rs`);
//! - inside scripts: `SET`, `INCR`, `HLEN`, `PEXPIRE`, `ZADD`, `ZREM`, `ZCARD`,
//!   `ZREMRANGEBYSCORE`, `ZREMRANGEBYRANK`, `PUBLISH`;
//! - statistics: `INFO`, `DBSIZE`, `SCAN` (the reconciliation's bounded background walk);
//! - the guard: `SUBSCRIBE`.
//!
//! Nothing else: no `KEYS`, `FLUSH*`, `CONFIG`, `EVAL` of arbitrary code, or keys outside
//! the prefix. The conformance suite runs as a user with exactly these rules.

/// The rules, in `ACL SETUSER` syntax, for the key prefix `prefix` (e.g. `ts:`): use as
/// `ACL SETUSER tessera on >PASSWORD <rules…>` or as an `aclfile` line
/// `user tessera on >PASSWORD <rules…>`.
pub fn acl_rules(prefix: &str) -> Vec<String> {
    let mut rules = vec![
        "resetkeys".to_owned(),
        format!("~{prefix}*"),
        "resetchannels".to_owned(),
        format!("&{prefix}revocations"),
        "-@all".to_owned(),
    ];
    rules.extend(COMMANDS.iter().map(|c| format!("+{c}")));
    rules
}

/// Every command Tessera sends or its scripts call (module docs).
const COMMANDS: [&str; 31] = [
    "ping",
    "auth",
    "hello",
    "evalsha",
    "script|load",
    "get",
    "set",
    "del",
    "exists",
    "incr",
    "hget",
    "hmget",
    "hgetall",
    "hset",
    "hdel",
    "hlen",
    "hincrby",
    "pexpire",
    "zadd",
    "zrem",
    "zrange",
    "zcard",
    "zremrangebyscore",
    "zremrangebyrank",
    "publish",
    "subscribe",
    "info",
    "dbsize",
    "scan",
    // Sentinel: a revocation waits for the replicas a failover could promote.
    "wait",
    "role",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_acl_line_is_the_one_the_code_needs() {
        let line = format!("user tessera on >PASSWORD {}", acl_rules("ts:").join(" "));
        let docs = include_str!("../../../../docs/ARCHITECTURE.md");
        assert!(
            docs.contains(&line),
            "docs/ARCHITECTURE.md must show the ACL line:\n{line}"
        );
    }
}
