//! The Lua scripts, each built once (its SHA-1 computed once) and run with `EVALSHA`
//! through [`redis::Script::invoke_async`], which loads the script and retries when the
//! server answers `NOSCRIPT` (after a restart, failover or `SCRIPT FLUSH`). On Cluster the
//! `EVALSHA` is routed by its first key and `SCRIPT LOAD` goes to every primary.
//!
//! Each script is `scripts/prelude.lua` (shared helpers) followed by `scripts/<name>.lua`,
//! whose header names its KEYS, ARGV and reply.

use std::sync::LazyLock;

use redis::Script;

macro_rules! script {
    ($file:literal) => {
        LazyLock::new(|| {
            Script::new(concat!(
                include_str!("scripts/prelude.lua"),
                include_str!(concat!("scripts/", $file))
            ))
        })
    };
}

/// `create_session.lua`.
pub(crate) static CREATE_SESSION: LazyLock<Script> = script!("create_session.lua");
/// `rotate_refresh.lua`.
pub(crate) static ROTATE_REFRESH: LazyLock<Script> = script!("rotate_refresh.lua");
/// `revoke_session.lua`.
pub(crate) static REVOKE_SESSION: LazyLock<Script> = script!("revoke_session.lua");
/// `revoke_user.lua`.
pub(crate) static REVOKE_USER: LazyLock<Script> = script!("revoke_user.lua");
/// `revoke_user_except.lua`.
pub(crate) static REVOKE_USER_EXCEPT: LazyLock<Script> = script!("revoke_user_except.lua");
/// `revoke_access_token.lua`.
pub(crate) static REVOKE_ACCESS_TOKEN: LazyLock<Script> = script!("revoke_access_token.lua");
/// `list_sessions.lua`.
pub(crate) static LIST_SESSIONS: LazyLock<Script> = script!("list_sessions.lua");
/// `find_access_token.lua`.
pub(crate) static FIND_ACCESS_TOKEN: LazyLock<Script> = script!("find_access_token.lua");
/// `count_sessions.lua` (background statistics reconciliation).
pub(crate) static COUNT_SESSIONS: LazyLock<Script> = script!("count_sessions.lua");
/// `restore_session.lua` (a lost session put back from its durable copy).
pub(crate) static RESTORE_SESSION: LazyLock<Script> = script!("restore_session.lua");
/// `push_event.lua`.
pub(crate) static PUSH_EVENT: LazyLock<Script> = script!("push_event.lua");

/// `put_if_absent.lua` (ephemeral records).
pub(crate) static PUT_IF_ABSENT: LazyLock<Script> = script!("put_if_absent.lua");
/// `take.lua` (ephemeral records).
pub(crate) static TAKE: LazyLock<Script> = script!("take.lua");
/// `count_attempt.lua` (ephemeral records).
pub(crate) static COUNT_ATTEMPT: LazyLock<Script> = script!("count_attempt.lua");
/// `throttle.lua` (ephemeral records: GCRA).
pub(crate) static THROTTLE: LazyLock<Script> = script!("throttle.lua");
/// `refund.lua` (ephemeral records: GCRA reservations given back).
pub(crate) static REFUND: LazyLock<Script> = script!("refund.lua");
/// `map_put.lua` (per-user maps).
pub(crate) static MAP_PUT: LazyLock<Script> = script!("map_put.lua");
/// `map_clear.lua` (per-user maps).
pub(crate) static MAP_CLEAR: LazyLock<Script> = script!("map_clear.lua");

/// Every script with its name, e.g. for preloading or for a health report.
pub fn all() -> [(&'static str, &'static Script); 18] {
    [
        ("create_session", &CREATE_SESSION),
        ("rotate_refresh", &ROTATE_REFRESH),
        ("revoke_session", &REVOKE_SESSION),
        ("revoke_user", &REVOKE_USER),
        ("revoke_user_except", &REVOKE_USER_EXCEPT),
        ("revoke_access_token", &REVOKE_ACCESS_TOKEN),
        ("list_sessions", &LIST_SESSIONS),
        ("find_access_token", &FIND_ACCESS_TOKEN),
        ("count_sessions", &COUNT_SESSIONS),
        ("restore_session", &RESTORE_SESSION),
        ("push_event", &PUSH_EVENT),
        ("put_if_absent", &PUT_IF_ABSENT),
        ("take", &TAKE),
        ("count_attempt", &COUNT_ATTEMPT),
        ("throttle", &THROTTLE),
        ("refund", &REFUND),
        ("map_put", &MAP_PUT),
        ("map_clear", &MAP_CLEAR),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_lua_grant_cap_is_the_rust_constant() {
        let line = format!(
            "\nlocal MAX_LIVE_GRANTS = {}\n",
            crate::model::MAX_LIVE_GRANTS
        );
        assert!(include_str!("scripts/prelude.lua").contains(&line));
    }
}
