//! Sentinel failover on a private deployment (master, replica, sentinel): the store follows
//! the new master, and nothing that was revoked (and replicated) before comes back.

use std::time::{Duration, Instant};

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::redis::{RedisConfig, RedisStore, UserKeys};
use tessera_store::*;

use crate::support::fixtures::*;
use tessera_testkit::{RedisSentinel, free_port, redis_available};

/// Retries `ping` until the store answers (bounded), as a client would.
async fn wait_until_serving(store: &RedisStore, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        match store.ping().await {
            Ok(()) => return,
            Err(e) => assert!(e.is_unavailable(), "{e:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "store did not follow the failover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Creates a session, retrying while the store is unavailable (bounded).
async fn create_retrying(store: &RedisStore, new: NewSession, now: Timestamp) -> CreatedSession {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match store.create_session(new.clone(), now).await {
            Ok(c) => return c,
            Err(e) => assert!(e.is_unavailable(), "{e:?}"),
        }
        assert!(
            Instant::now() < deadline,
            "writes did not resume after failover"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_master_is_replaced_and_revocations_stay_revoked() {
    if !redis_available() {
        return;
    }
    let sentinel = tokio::task::spawn_blocking(|| RedisSentinel::start(1))
        .await
        .unwrap();
    // A sentinel that does not answer comes first: the next one is asked.
    let url = sentinel
        .url()
        .replacen("://", &format!("://127.0.0.1:{},", free_port()), 1);
    let store = RedisStore::connect(RedisConfig::standalone(url))
        .await
        .unwrap();
    let now = Timestamp::now();

    let user = UserId::new();
    let live = open_default(&store, user, now).await;
    let logged_out = open_default(&store, user, now).await;
    assert!(
        store
            .revoke_session(user, logged_out.session, now)
            .await
            .unwrap()
    );
    let second = grant(now);
    let r = rotation(&live, live.refresh, now);
    let RotationOutcome::Rotated { .. } = store.rotate_refresh(r.clone(), now).await.unwrap()
    else {
        panic!("rotation failed");
    };
    assert!(
        store
            .revoke_access_token(
                user,
                live.session,
                live.access,
                RevocationMode::Allowlist,
                now
            )
            .await
            .unwrap()
    );
    let banned = UserId::new();
    let banned_session = open_default(&store, banned, now).await;
    assert_eq!(store.revoke_user(banned, now).await.unwrap(), 1);
    let old = sentinel.master_port();
    let (sentinel, new) = tokio::task::spawn_blocking(move || {
        let mut sentinel = sentinel;
        // Everything above is on the replica before the master dies.
        sentinel.wait_replicated();
        let new = sentinel.kill_master();
        (sentinel, new)
    })
    .await
    .unwrap();
    assert_ne!(old, new);
    // The new master starts without the scripts: they must be loaded again on first use.
    tessera_testkit::cli(new, &["SCRIPT", "FLUSH"]);

    wait_until_serving(&store, Duration::from_secs(15)).await;
    let now = Timestamp::now();
    // Nothing revoked comes back.
    assert_eq!(
        status_both(&store, check(&logged_out, logged_out.access, 0), now).await,
        AccessStatus::Revoked
    );
    assert_eq!(
        status(&store, check(&live, live.access, 0), now).await,
        AccessStatus::Revoked,
        "the revoked access token stays revoked"
    );
    assert_eq!(
        status_both(
            &store,
            check(&banned_session, banned_session.access, 0),
            now
        )
        .await,
        AccessStatus::Revoked
    );
    // The raised version survived: a new sign-in (with the version 0 SQL might still hold)
    // reports it.
    let again = create_retrying(&store, new_session(banned, now), now).await;
    assert_eq!(again.token_version, 1);
    // What was live is still live, and the rotated family goes on: the old token is
    // now a replay after the grace window, so it would be theft — the current one rotates.
    assert_eq!(
        status(&store, check(&live, r.access, 0), now).await,
        AccessStatus::Active
    );
    let mut next = rotation(&live, r.successor, now);
    next.access = second;
    assert!(matches!(
        store.rotate_refresh(next.clone(), now).await.unwrap(),
        RotationOutcome::Rotated { .. }
    ));
    assert_eq!(store.list_sessions(user, now).await.unwrap().len(), 1);
    // New writes land on the new master.
    let fresh = new_session(UserId::new(), now);
    create_retrying(&store, fresh.clone(), now).await;
    let key = UserKeys::new(store.key_prefix(), fresh.user).session(fresh.session);
    assert_eq!(
        tessera_testkit::cli(new, &["EXISTS", &key]).trim(),
        "1",
        "the session is written to the new master"
    );
    drop(sentinel);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_failover_moves_writes_to_the_promoted_replica() {
    if !redis_available() {
        return;
    }
    let sentinel = tokio::task::spawn_blocking(|| RedisSentinel::start(1))
        .await
        .unwrap();
    let store = RedisStore::connect(RedisConfig::standalone(sentinel.url()))
        .await
        .unwrap();
    let now = Timestamp::now();
    let user = UserId::new();
    let o = open_default(&store, user, now).await;
    assert!(store.revoke_session(user, o.session, now).await.unwrap());
    let p = open_default(&store, user, now).await;
    let old = sentinel.master_port();

    // The old master stays up, still a writable master until Sentinel demotes it seconds
    // later: the store must move at Sentinel's +switch-master announcement, or the writes
    // of that window land on the old master and are lost when it is demoted.
    let (sentinel, new) = tokio::task::spawn_blocking(move || {
        sentinel.wait_replicated();
        let new = sentinel.start_failover();
        (sentinel, new)
    })
    .await
    .unwrap();
    assert_ne!(old, new);
    let promoted = Instant::now();
    let mut written = Vec::new();
    loop {
        let now = Timestamp::now();
        let fresh = new_session(user, now);
        create_retrying(&store, fresh.clone(), now).await;
        written.push(fresh.session);
        let key = UserKeys::new(store.key_prefix(), user).session(fresh.session);
        if tessera_testkit::cli(new, &["EXISTS", &key]).trim() == "1" {
            break;
        }
        assert!(
            promoted.elapsed() < Duration::from_millis(700),
            "writes still go to the old master {:?} after the promotion",
            promoted.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sentinel = tokio::task::spawn_blocking(move || {
        sentinel.wait_demoted(old);
        sentinel
    })
    .await
    .unwrap();

    let now = Timestamp::now();
    let last = *written.last().unwrap();
    let key = UserKeys::new(store.key_prefix(), user).session(last);
    assert_eq!(
        tessera_testkit::cli(new, &["EXISTS", &key]).trim(),
        "1",
        "the session written after the switch survives the demotion"
    );
    assert_eq!(
        status(&store, check(&o, o.access, 0), now).await,
        AccessStatus::Revoked
    );
    assert_eq!(
        status(&store, check(&p, p.access, 0), now).await,
        AccessStatus::Active
    );
    assert!(store.revoke_session(user, p.session, now).await.unwrap());
    assert_eq!(
        status(&store, check(&p, p.access, 0), now).await,
        AccessStatus::Revoked
    );
    drop(sentinel);
}

/// The calls `WAIT` made on the master so far (`INFO commandstats`).
fn waits(port: u16) -> u64 {
    tessera_testkit::cli(port, &["INFO", "commandstats"])
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_wait:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Every revocation waits for its replication, even one that finds nothing (it may be the
/// retry of one answered 503), but concurrent ones share the barrier: a barrier that starts
/// after a revocation's script covers it. So 40 revocations at once (half of them of
/// nothing, as a flood of replayed dead tokens would be) cost a few `WAIT`s, not 40 in a
/// row, and each is still answered only once replicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_revocations_share_their_replication_barriers() {
    if !redis_available() {
        return;
    }
    let sentinel = tokio::task::spawn_blocking(|| RedisSentinel::start(1))
        .await
        .unwrap();
    let store = std::sync::Arc::new(
        RedisStore::connect(RedisConfig::standalone(sentinel.url()))
            .await
            .unwrap(),
    );
    let now = Timestamp::now();
    let user = UserId::new();
    let mut sessions = Vec::new();
    for _ in 0..20 {
        sessions.push(open_default(&*store, user, now).await.session);
    }
    let master = sentinel.master_port();
    let before = waits(master);
    let mut calls = tokio::task::JoinSet::new();
    for s in sessions.iter().copied().chain(sessions.iter().copied()) {
        let store = store.clone();
        calls.spawn(async move { store.revoke_session(user, s, now).await });
    }
    let mut revoked = 0;
    while let Some(r) = calls.join_next().await {
        if r.unwrap().unwrap() {
            revoked += 1;
        }
    }
    assert_eq!(revoked, 20, "each session revoked once");
    let used = waits(master) - before;
    assert!(
        (1..=10).contains(&used),
        "{used} barriers for 40 concurrent revocations"
    );
}
