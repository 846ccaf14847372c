//! Redis-specific behaviour: TTLs on every key, one slot per user, script reloading, real
//! expiry on Redis's clock.

use std::collections::BTreeSet;
use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::redis::scripts;
use tessera_store::*;

use crate::support::RedisAccess;
use crate::support::fixtures::*;

/// Keys of `user` on each node: `(node index, key)`.
fn user_keys(redis: &RedisAccess, user: UserId) -> Vec<(usize, String)> {
    let pattern = format!("*{{u:{user}}}*");
    redis
        .cli_all(&["--scan", "--pattern", &pattern])
        .into_iter()
        .enumerate()
        .flat_map(|(node, out)| {
            out.lines()
                .filter(|l| !l.is_empty())
                .map(|l| (node, l.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn pttl(redis: &RedisAccess, node: usize, key: &str) -> i64 {
    let port = redis.ports[node];
    tessera_testkit::cli(port, &["PTTL", key])
        .trim()
        .parse()
        .expect("PTTL reply")
}

/// Writes every kind of key for `user`: version, index, sessions (one rotated, so it has a
/// refresh family), denylist entry.
async fn populate(store: &dyn StateStore, user: UserId, now: Timestamp) {
    let a = open_default(store, user, now).await;
    let _b = open_default(store, user, now).await;
    store
        .rotate_refresh(rotation(&a, a.refresh, now), now)
        .await
        .unwrap();
    let g = grant(now);
    store
        .rotate_refresh(rotation(&a, a.refresh, now), now)
        .await
        .unwrap();
    store
        .revoke_access_token(a.user, a.session, a.access, RevocationMode::Denylist, now)
        .await
        .unwrap();
    let _ = g;
}

pub async fn every_key_has_a_ttl_except_the_version(redis: RedisAccess) {
    let store = &redis.store;
    let now = Timestamp::now();
    let user = UserId::new();
    populate(store, user, now).await;
    let keys = user_keys(&redis, user);
    let kinds: BTreeSet<&str> = keys
        .iter()
        .map(|(_, k)| {
            let rest = k.split_once("}:").map_or("", |(_, r)| r);
            rest.split(':').next().unwrap_or("")
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["deny", "s", "sessions", "ver"]),
        "{keys:?}"
    );
    for (node, key) in &keys {
        let ttl = pttl(&redis, *node, key);
        if key.ends_with(":ver") {
            assert_eq!(ttl, -1, "the version is the one durable key: {key}");
        } else {
            assert!(ttl > 0, "{key} has no TTL ({ttl})");
        }
    }
    // And across everything the other tests wrote to this server: only versions are durable.
    for (node, out) in redis.cli_all(&["--scan"]).iter().enumerate() {
        for key in out.lines().filter(|l| !l.is_empty()) {
            let ttl = pttl(&redis, node, key);
            assert!(
                key.ends_with(":ver") || ttl > 0 || ttl == -2,
                "{key} has no TTL ({ttl})"
            );
        }
    }
}

pub async fn keys_of_one_user_share_one_slot(redis: RedisAccess) {
    let store = &redis.store;
    let now = Timestamp::now();
    let mut nodes_used = BTreeSet::new();
    for _ in 0..12 {
        let user = UserId::new();
        populate(store, user, now).await;
        store.list_sessions(user, now).await.unwrap();
        let keys = user_keys(&redis, user);
        assert!(keys.len() >= 4, "{keys:?}");
        let nodes: BTreeSet<usize> = keys.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            nodes.len(),
            1,
            "keys of one user on several nodes: {keys:?}"
        );
        nodes_used.extend(nodes);
        if redis.cluster {
            let slots: BTreeSet<String> = keys
                .iter()
                .map(|(_, k)| {
                    redis.cli_all(&["CLUSTER", "KEYSLOT", k])[0]
                        .trim()
                        .to_owned()
                })
                .collect();
            assert_eq!(slots.len(), 1, "{keys:?} {slots:?}");
        }
        // revoke_user deletes sessions it finds through the index: same slot, works.
        store.revoke_user(user, now).await.unwrap();
        let left: Vec<_> = user_keys(&redis, user)
            .into_iter()
            .filter(|(_, k)| !k.contains(":deny:"))
            .map(|(_, k)| k)
            .collect();
        assert_eq!(left.len(), 1, "only the version stays: {left:?}");
    }
    if redis.cluster {
        assert!(
            nodes_used.len() >= 2,
            "users should spread over the cluster: {nodes_used:?}"
        );
    }
}

pub async fn flushed_scripts_are_reloaded_transparently(redis: RedisAccess) {
    let store = &redis.store;
    let now = Timestamp::now();
    let user = UserId::new();
    for out in redis.cli_all(&["SCRIPT", "FLUSH"]) {
        assert_eq!(out.trim(), "OK");
    }
    for (name, script) in scripts::all() {
        for out in redis.cli_all(&["SCRIPT", "EXISTS", script.get_hash()]) {
            assert_eq!(out.trim(), "0", "{name} still loaded after SCRIPT FLUSH");
        }
    }
    // Every script runs anyway (EVALSHA → NOSCRIPT → SCRIPT LOAD → EVALSHA).
    let o = open_default(store, user, now).await;
    let r = rotation(&o, o.refresh, now);
    assert!(matches!(
        store.rotate_refresh(r.clone(), now).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    assert_eq!(
        status(store, check(&o, r.access, 0), now).await,
        AccessStatus::Active
    );
    assert!(
        store
            .revoke_access_token(user, o.session, o.access, RevocationMode::Allowlist, now)
            .await
            .unwrap()
    );
    assert_eq!(store.list_sessions(user, now).await.unwrap().len(), 1);
    assert!(store.revoke_session(user, o.session, now).await.unwrap());
    assert_eq!(store.revoke_user(user, now).await.unwrap(), 1);
    for (name, script) in scripts::all() {
        let loaded = redis
            .cli_all(&["SCRIPT", "EXISTS", script.get_hash()])
            .iter()
            .any(|o| o.trim() == "1");
        assert!(loaded, "{name} was not reloaded");
    }
}

pub async fn redis_ttls_reclaim_dead_state_without_cleanup(redis: RedisAccess) {
    let store = &redis.store;
    let now = Timestamp::now();
    let user = UserId::new();
    let mut n = new_session(user, now);
    n.limits.idle_timeout = Duration::from_millis(1200);
    n.access.expires_at = now.plus(Duration::from_millis(1200));
    let o = open(store, n, now).await;
    store
        .revoke_access_token(user, o.session, o.access, RevocationMode::Denylist, now)
        .await
        .unwrap();
    assert_eq!(
        user_keys(&redis, user).len(),
        4,
        "ver, sessions, s:SID, deny:JTI"
    );
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let left: Vec<_> = user_keys(&redis, user)
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].ends_with(":ver"));
    // With the real clock, the store agrees the session is gone.
    let real_now = Timestamp::now();
    assert_eq!(
        status_both(store, check(&o, o.access, 0), real_now).await,
        AccessStatus::Revoked
    );
    assert!(
        store
            .list_sessions(user, real_now)
            .await
            .unwrap()
            .is_empty()
    );
}
