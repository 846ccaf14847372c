//! Redis-specific behaviour: TTLs on every key, one slot per user, script reloading, real
//! expiry on Redis's clock.

use std::collections::BTreeSet;
use std::time::Duration;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::redis::{RedisConfig, RedisStore, compact, scripts};
use tessera_store::*;

pub use crate::suite::publish::{
    capped_grants_publish_a_notice_each, every_revocation_path_publishes_a_notice,
};
use crate::support::RedisAccess;
use crate::support::fixtures::*;

/// Keys of `user` on each node: `(node index, key)`.
fn user_keys(redis: &RedisAccess, user: UserId) -> Vec<(usize, String)> {
    let pattern = format!("*{{u:{}}}*", compact(user.as_bytes()));
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
    let out = tessera_testkit::cli(port, &["PTTL", key]);
    if out.starts_with("MOVED") {
        return -2; // another Cluster node holds it
    }
    out.trim().parse().expect("PTTL reply")
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
    store.push_event(user, event("e1", now), now).await.unwrap();
}

/// The global statistics hash of `redis`'s store: `(node, key)`.
fn stats_key(redis: &RedisAccess) -> String {
    format!("{}stats", redis.store.key_prefix())
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
        BTreeSet::from(["deny", "ev", "s", "sessions", "ver"]),
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
    // The statistics hash is the second intentional durable key. Counter changes are written
    // in batches off the request path; `stats()` flushes this process's pending batch first.
    store.stats(now).await.unwrap();
    let stats = stats_key(&redis);
    let on: Vec<i64> = (0..redis.ports.len())
        .map(|node| pttl(&redis, node, &stats))
        .collect();
    assert!(on.contains(&-1), "{stats} exists without TTL: {on:?}");
    // And across everything the other tests wrote to this server: only versions and the
    // statistics hashes (one per prefix) are durable.
    for (node, out) in redis.cli_all(&["--scan"]).iter().enumerate() {
        for key in out.lines().filter(|l| !l.is_empty()) {
            let ttl = pttl(&redis, node, key);
            let durable = key.ends_with(":ver") || (key.ends_with(":stats") && !key.contains('{'));
            assert!(durable || ttl > 0 || ttl == -2, "{key} has no TTL ({ttl})");
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
            .filter(|(_, k)| !k.contains(":deny:") && !k.ends_with(":ev"))
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
    // A probe script only this test loads shows the flush happened (the store's own
    // scripts may be reloaded at once by tests running concurrently).
    let probe = format!("return '{user}'");
    let probe_sha = redis.cli_all(&["SCRIPT", "LOAD", &probe]);
    for out in redis.cli_all(&["SCRIPT", "FLUSH"]) {
        assert_eq!(out.trim(), "OK");
    }
    for (node, sha) in probe_sha.iter().enumerate() {
        let out = tessera_testkit::cli(redis.ports[node], &["SCRIPT", "EXISTS", sha.trim()]);
        assert_eq!(out.trim(), "0", "probe still loaded after SCRIPT FLUSH");
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
    assert_eq!(
        store
            .find_access_token(user, r.access.jti, now)
            .await
            .unwrap(),
        Some((o.session, r.access.expires_at))
    );
    store.push_event(user, event("e", now), now).await.unwrap();
    assert_eq!(store.reconcile_stats(now).await.unwrap().sessions, 1);
    assert!(store.revoke_session(user, o.session, now).await.unwrap());
    open_default(store, user, now).await;
    let none = tessera_core::ids::SessionId::new();
    assert_eq!(store.revoke_user_except(user, none, now).await.unwrap(), 1);
    assert_eq!(store.revoke_user(user, now).await.unwrap(), 1);
    // The ephemeral-record scripts too.
    let key = EphemeralKey::user(user, "flush");
    assert!(
        store
            .put_if_absent(&key, b"v", Duration::from_secs(60), now)
            .await
            .unwrap()
    );
    assert_eq!(store.take(&key, now).await.unwrap(), Some(b"v".to_vec()));
    let counted = store
        .count_attempt(&key, 3, Duration::from_secs(60), now)
        .await;
    assert_eq!(counted.unwrap().used, 1);
    let rate = Rate::new(3, Duration::from_secs(60));
    let other = EphemeralKey::user(user, "flush-throttle");
    assert!(store.throttle(&other, rate, 1, now).await.unwrap().allowed);
    store.refund(&other, rate, 1, now).await.unwrap();
    let exp = now.plus(Duration::from_secs(60));
    store.map_put(user, "m", "f", b"v", exp, now).await.unwrap();
    assert_eq!(store.map_clear(user, "m").await.unwrap(), 1);
    let restored = RestoredSession {
        user,
        session: tessera_core::ids::SessionId::new(),
        created_at: now,
        last_seen: now,
        idle_timeout: IDLE,
        absolute_expiry: now.plus(LIFETIME),
        opened_under: 2,
        token_version: 2,
        current: StoredHash::of(&hash()),
        previous: None,
        seed: None,
        refresh_generation: None,
        attributes: ATTRS.to_owned(),
        binding: None,
        denied: Vec::new(),
    };
    assert_eq!(
        store.restore_session(restored, now).await.unwrap(),
        RestoreOutcome::Restored
    );
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

pub async fn reconciliation_drops_expired_but_unpruned_sessions(redis: RedisAccess) {
    let store = &redis.store;
    let real = Timestamp::now();
    // A session whose deadline has passed on the wall clock, of a user no script touches
    // again: nothing prunes it (its keys still live: TTLs are relative to the script's `now`).
    let past = real.minus(IDLE + Duration::from_secs(60));
    let (quiet, busy) = (UserId::new(), UserId::new());
    let stale = open_default(store, quiet, past).await;
    let live = open_default(store, busy, real).await;
    let counted = store.stats(real).await.unwrap();
    assert_eq!(
        (counted.sessions_active, counted.access_tokens_active),
        (2, 2),
        "the counters only know about the creations"
    );
    assert_eq!(user_keys(&redis, quiet).len(), 3, "ver, sessions, s:SID");

    let r = store.reconcile_stats(real).await.unwrap();
    assert_eq!((r.users, r.sessions, r.grants), (2, 1, 1));
    let after = store.stats(real).await.unwrap();
    assert_eq!((after.sessions_active, after.access_tokens_active), (1, 1));
    assert_eq!(
        after.backend.get("stats_reconciled_at_ms"),
        Some(&real.as_millis().to_string())
    );
    // The stale session was pruned on the way, so nothing subtracts it a second time.
    let left: Vec<_> = user_keys(&redis, quiet)
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    assert_eq!(left.len(), 1, "only ver: {left:?}");
    assert!(
        !store
            .revoke_session(quiet, stale.session, real)
            .await
            .unwrap()
    );
    assert!(store.list_sessions(quiet, real).await.unwrap().is_empty());
    assert!(
        store
            .revoke_session(busy, live.session, real)
            .await
            .unwrap()
    );
    let end = store.stats(real).await.unwrap();
    assert_eq!((end.sessions_active, end.access_tokens_active), (0, 0));
    let r = store.reconcile_stats(real).await.unwrap();
    assert_eq!((r.users, r.sessions, r.grants), (0, 0, 0));
}

pub async fn background_reconciler_writes_totals(redis: RedisAccess) {
    let store = &redis.store;
    let now = Timestamp::now();
    // Users spread over every primary, more than one SCAN batch in total.
    let users: Vec<UserId> = (0..30).map(|_| UserId::new()).collect();
    for u in &users {
        open_default(store, *u, now).await;
    }
    // Skew the counters as a lost HINCRBY would.
    let key = stats_key(&redis);
    let skew = redis.cli_all(&["HINCRBY", &key, "s", "100"]);
    assert!(
        skew.iter().any(|o| o.trim().parse::<i64>().is_ok()),
        "{skew:?}"
    );
    assert_eq!(store.stats(now).await.unwrap().sessions_active, 130);
    let task = store.spawn_stats_reconciler(Duration::from_secs(3600));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s = store.stats(now).await.unwrap();
        if s.backend.contains_key("stats_reconciled_at_ms") {
            assert_eq!((s.sessions_active, s.access_tokens_active), (30, 30));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no pass finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    task.abort();
}

pub async fn stats_report_backend_figures(redis: RedisAccess) {
    let store = &redis.store;
    let now = Timestamp::now();
    open_default(store, UserId::new(), now).await;
    let s = store.stats(now).await.unwrap();
    let num = |k: &str| -> u64 { s.backend[k].parse().unwrap() };
    assert!(num("used_memory") > 0, "{s:?}");
    assert!(num("keys") >= 3, "{s:?}");
    assert_eq!(num("primaries"), redis.ports.len() as u64, "{s:?}");
}

/// Every kind of ephemeral key has the documented name, a TTL on Redis's clock matching the
/// record's expiry, and — for user-scoped records — the user's slot.
pub async fn ephemeral_keys_are_named_tagged_and_expire(redis: RedisAccess) {
    let store = &redis.store;
    let now = Timestamp::now();
    let user = UserId::new();
    let p = store.key_prefix().to_owned();
    let minute = Duration::from_secs(60);
    open_default(store, user, now).await;
    store
        .put_if_absent(&EphemeralKey::user(user, "totp:1"), b"v", minute, now)
        .await
        .unwrap();
    store
        .count_attempt(&EphemeralKey::user(user, "fails"), 5, 2 * minute, now)
        .await
        .unwrap();
    store
        .throttle(
            &EphemeralKey::user(user, "rl"),
            Rate::new(4, 4 * minute),
            1,
            now,
        )
        .await
        .unwrap();
    let exp = now.plus(10 * minute);
    store
        .map_put(user, "trusted", "d1", b"v", exp, now)
        .await
        .unwrap();
    store
        .map_put(user, "trusted", "d2", b"v", now.plus(minute), now)
        .await
        .unwrap();
    let keys: BTreeSet<String> = user_keys(&redis, user)
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    let base = format!("{p}{{u:{}}}:", compact(user.as_bytes()));
    for (suffix, ttl) in [
        ("e:totp:1", minute),
        ("e:fails", 2 * minute),
        ("e:rl", minute),
        ("m:trusted", 10 * minute),
    ] {
        let key = format!("{base}{suffix}");
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
        let node = user_keys(&redis, user)
            .into_iter()
            .find(|(_, k)| *k == key)
            .map(|(n, _)| n)
            .unwrap();
        let left = pttl(&redis, node, &key);
        let ttl = i64::try_from(ttl.as_millis()).unwrap();
        assert!(
            left > ttl - 5_000 && left <= ttl,
            "{key}: PTTL {left}, expected ≈ {ttl}"
        );
    }
    // All of them in the user's one slot (one node).
    let nodes: BTreeSet<usize> = user_keys(&redis, user)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(nodes.len(), 1);
    // A tag record: `{t:TAG}` is its hash tag.
    let tag = format!("challenge-{}", UserId::new());
    let key = EphemeralKey::tag(tag.clone(), "attempts");
    store.count_attempt(&key, 5, minute, now).await.unwrap();
    let name = format!("{p}{{t:{tag}}}:e:attempts");
    let found: Vec<(usize, String)> = redis
        .cli_all(&["--scan", "--pattern", &format!("*{{t:{tag}}}*")])
        .into_iter()
        .enumerate()
        .flat_map(|(n, out)| out.lines().map(|l| (n, l.to_owned())).collect::<Vec<_>>())
        .filter(|(_, l)| !l.is_empty())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].1, name);
    assert!(pttl(&redis, found[0].0, &name) > 0);
    if redis.cluster {
        let slot = redis.cli_all(&["CLUSTER", "KEYSLOT", &name])[0]
            .trim()
            .to_owned();
        let tag_slot = redis.cli_all(&["CLUSTER", "KEYSLOT", &format!("t:{tag}")])[0]
            .trim()
            .to_owned();
        assert_eq!(slot, tag_slot);
    }
    // Taking the record and clearing the map delete their keys.
    store
        .take(&EphemeralKey::user(user, "totp:1"), now)
        .await
        .unwrap();
    store.map_clear(user, "trusted").await.unwrap();
    let left: BTreeSet<String> = user_keys(&redis, user)
        .into_iter()
        .map(|(_, k)| k)
        .collect();
    assert!(!left.contains(&format!("{base}e:totp:1")), "{left:?}");
    assert!(!left.contains(&format!("{base}m:trusted")), "{left:?}");
}

/// Two stores (two Tessera processes) on one Redis share one limit, one counter and one
/// single-use record.
pub async fn two_stores_share_one_throttle(redis: RedisAccess) {
    let first = &redis.store;
    let urls: Vec<String> = redis
        .ports
        .iter()
        .map(|p| format!("redis://127.0.0.1:{p}"))
        .collect();
    let mut config = if redis.cluster {
        RedisConfig::cluster(urls)
    } else {
        RedisConfig::standalone(urls[0].clone())
    };
    config.key_prefix = first.key_prefix().to_owned();
    let second = RedisStore::connect(config).await.unwrap();
    let now = Timestamp::now();
    let key = EphemeralKey::tag(format!("198.51.100.{}", UserId::new()), "login");
    let rate = Rate::new(4, Duration::from_secs(600));
    let mut allowed = 0;
    for i in 0..8 {
        let store: &RedisStore = if i % 2 == 0 { first } else { &second };
        if store.throttle(&key, rate, 1, now).await.unwrap().allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 4, "the burst is shared, not per process");
    let peek = second.throttle(&key, rate, 0, now).await.unwrap();
    assert_eq!((peek.allowed, peek.remaining), (false, 0));
    assert_eq!(peek.retry_after, Duration::from_secs(150));

    let attempts = EphemeralKey::user(UserId::new(), "mfa");
    first
        .count_attempt(&attempts, 5, Duration::from_secs(60), now)
        .await
        .unwrap();
    let a = second
        .count_attempt(&attempts, 5, Duration::from_secs(60), now)
        .await
        .unwrap();
    assert_eq!(a.used, 2);

    let code = EphemeralKey::tag(format!("reset-{}", UserId::new()), "token");
    assert!(
        first
            .put_if_absent(&code, b"u", Duration::from_secs(60), now)
            .await
            .unwrap()
    );
    assert_eq!(second.take(&code, now).await.unwrap(), Some(b"u".to_vec()));
    assert_eq!(first.take(&code, now).await.unwrap(), None);
}

/// A session with realistic device attributes longer than 64 bytes (stored in 64-byte
/// chunks) keeps its hash in Redis's compact listpack encoding, before and after rotation.
pub async fn session_hash_stays_compact_with_long_attributes(redis: RedisAccess) {
    let store = &redis.store;
    let now = Timestamp::now();
    let user = UserId::new();
    let mut n = new_session(user, now);
    n.attributes = r#"{"b":"Chrome 131","o":"Windows 10","k":"desktop","ip":"203.0.113.45","amr":["pwd"],"n":"my work laptop"}"#.to_owned();
    assert!(n.attributes.len() > 64);
    let o = open(store, n, now).await;
    let encoding = |redis: &RedisAccess| {
        let keys = user_keys(redis, user);
        let (node, key) = keys
            .iter()
            .find(|(_, k)| k.contains("}:s:"))
            .expect("the session key")
            .clone();
        tessera_testkit::cli(redis.ports[node], &["OBJECT", "ENCODING", &key])
    };
    assert_eq!(encoding(&redis).trim(), "listpack");
    let r = store
        .rotate_refresh(rotation(&o, o.refresh, now), now)
        .await
        .unwrap();
    assert!(matches!(r, RotationOutcome::Rotated { .. }), "{r:?}");
    assert_eq!(encoding(&redis).trim(), "listpack");
}

/// Every field of `user`'s only session hash, and its encoding.
async fn session_hash(redis: &RedisAccess, user: UserId) -> (Vec<(Vec<u8>, Vec<u8>)>, String) {
    let keys = user_keys(redis, user);
    let (node, key) = keys
        .iter()
        .find(|(_, k)| k.contains("}:s:"))
        .expect("the session key")
        .clone();
    let url = format!("redis://127.0.0.1:{}", redis.ports[node]);
    let mut con = ::redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let all: Vec<(Vec<u8>, Vec<u8>)> = ::redis::cmd("HGETALL")
        .arg(&key)
        .query_async(&mut con)
        .await
        .unwrap();
    let encoding: String = ::redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(&key)
        .query_async(&mut con)
        .await
        .unwrap();
    (all, encoding)
}

/// The grant fields (16-byte names) of `user`'s only session hash, and its encoding.
async fn grant_fields(redis: &RedisAccess, user: UserId) -> (usize, String) {
    let (all, encoding) = session_hash(redis, user).await;
    (all.iter().filter(|(f, _)| f.len() == 16).count(), encoding)
}

/// A rotated, bound session hash holds exactly the documented fields (no `rotated_at`: `l` is
/// the time of the last rotation), refresh hashes and binding in their 16-byte stored form,
/// the refresh generation in decimal.
pub async fn session_hash_holds_only_the_documented_fields(redis: RedisAccess) {
    let store: &dyn StateStore = &redis.store;
    let now = Timestamp::now();
    let bound = binding();
    let mut n = new_session(UserId::new(), now);
    n.binding = Some(bound);
    let o = open(store, n, now).await;
    let t1 = at(now, Duration::from_secs(5));
    let mut r = rotation(&o, o.refresh, t1);
    r.binding = Some(bound);
    let out = store.rotate_refresh(r.clone(), t1).await.unwrap();
    assert!(matches!(out, RotationOutcome::Rotated { .. }), "{out:?}");
    let (all, _) = session_hash(&redis, o.user).await;
    let mut named: Vec<(String, usize)> = all
        .iter()
        .filter(|(f, _)| f.len() != 16)
        .map(|(f, v)| (String::from_utf8(f.clone()).unwrap(), v.len()))
        .collect();
    named.sort();
    let t1_len = t1.as_millis().to_string().len();
    let field = |name: &str, len: usize| (name.to_owned(), len);
    assert_eq!(
        named,
        vec![
            field("a", ATTRS.len()),
            field("b", 16),
            field("c", t1_len),
            field("g", 1),
            field("h", 16),
            field("i", IDLE.as_millis().to_string().len()),
            field("l", t1_len),
            field("n", 1), // the successor's refresh generation, "1"
            field("p", 16),
            field("s", 16),
            field("x", t1_len),
        ]
    );
    let grants: Vec<&Vec<u8>> = all
        .iter()
        .filter(|(f, _)| f.len() == 16)
        .map(|(f, _)| f)
        .collect();
    assert_eq!(grants.len(), 2);
}

/// `register_access` (prelude.lua) keeps a session hash small: at most `MAX_LIVE_GRANTS`
/// grant fields for a client that refreshes in a loop, and — because a scan drops expired
/// grants once more than a few grant fields are there — only a handful for a client that
/// refreshes once per access-token lifetime.
pub async fn session_hash_holds_few_grant_fields(redis: RedisAccess) {
    let store: &dyn StateStore = &redis.store;
    let t0 = Timestamp::now();
    let chain = crate::suite::grants::rotate_n(store, t0, 40).await;
    assert_eq!(
        grant_fields(&redis, chain.o.user).await,
        (MAX_LIVE_GRANTS, "listpack".to_owned())
    );

    // One rotation per access-token lifetime: every earlier grant has expired.
    let o = open_default(store, UserId::new(), t0).await;
    let mut current = o.refresh;
    for k in 1..=12u32 {
        let t = at(t0, (ACCESS_TTL + Duration::from_secs(1)) * k);
        let r = rotation(&o, current, t);
        let out = store.rotate_refresh(r.clone(), t).await.unwrap();
        assert!(matches!(out, RotationOutcome::Rotated { .. }), "{out:?}");
        current = r.successor;
        let (n, _) = grant_fields(&redis, o.user).await;
        assert!((1..=4).contains(&n), "{n} grant fields after rotation {k}");
        assert_eq!(
            status(store, check(&o, r.access, 0), t).await,
            AccessStatus::Active
        );
    }
}

/// A rotation keeps the session index alive at least as long as the session it moved
/// (`extend_index` in prelude.lua): it raises a TTL that is too short (`PEXPIRE … GT`), and
/// when the index was lost it recreates it with a TTL, where `GT` alone would leave a key
/// that never expires.
pub async fn rotation_keeps_the_index_alive_as_long_as_the_session(redis: RedisAccess) {
    let store: &dyn StateStore = &redis.store;
    let now = Timestamp::now();
    let o = open_default(store, UserId::new(), now).await;
    let keys = user_keys(&redis, o.user);
    let find = |suffix: &str| {
        keys.iter()
            .find(|(_, k)| k.ends_with(suffix))
            .cloned()
            .expect("key")
    };
    let (node, index) = find(":sessions");
    let (_, session) = keys
        .iter()
        .find(|(_, k)| k.contains("}:s:"))
        .cloned()
        .expect("the session key");
    let port = redis.ports[node];
    let margin = 5_000;

    // Too short: raised to the session's deadline.
    tessera_testkit::cli(port, &["PEXPIRE", &index, "1000"]);
    let r1 = rotation(&o, o.refresh, now);
    let out = store.rotate_refresh(r1.clone(), now).await.unwrap();
    assert!(matches!(out, RotationOutcome::Rotated { .. }), "{out:?}");
    let (ti, ts) = (pttl(&redis, node, &index), pttl(&redis, node, &session));
    assert!(
        ti + margin >= ts && ts > margin,
        "index {ti} ms, session {ts} ms"
    );

    // Lost: recreated, with a TTL, and listing the session again.
    tessera_testkit::cli(port, &["DEL", &index]);
    let out = store
        .rotate_refresh(rotation(&o, r1.successor, now), now)
        .await
        .unwrap();
    assert!(matches!(out, RotationOutcome::Rotated { .. }), "{out:?}");
    let (ti, ts) = (pttl(&redis, node, &index), pttl(&redis, node, &session));
    assert!(
        ti + margin >= ts && ts > margin,
        "index {ti} ms, session {ts} ms"
    );
    let listed = store.list_sessions(o.user, now).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
}
