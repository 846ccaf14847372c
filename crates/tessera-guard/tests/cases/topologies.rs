//! Topologies other than one plain server. Sentinel failover: the guard's store and its
//! revocation subscription follow the new master; what was revoked before stays refused,
//! and a revocation after the failover still reaches a token the near-cache holds as live.
//! TLS: the subscription and the checks work over `rediss://` with a private CA. ACL: they
//! work as a user with exactly `tessera_store::redis::acl_rules`.

use std::time::{Duration, Instant};

use tessera_core::time::Timestamp;
use tessera_guard::GuardError;
use tessera_store::{SessionStore, StoreHealth};

use crate::support::redis::private_sentinel;
use crate::support::{Env, wait_until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_failover_revocations_still_reach_the_near_cache() {
    let Some(deployment) = private_sentinel().await else {
        return;
    };
    let env = Env::new(&deployment.target, |_| {}).await;
    let kept = env.login().await;
    let revoked_before = env.login().await;
    let revoked_after = env.login().await;
    env.cache_as_live(&kept).await;
    env.cache_as_live(&revoked_before).await;
    assert!(
        env.store
            .revoke_session(
                revoked_before.user,
                revoked_before.session,
                Timestamp::now()
            )
            .await
            .unwrap()
    );
    env.refused_within_a_second(&revoked_before).await;
    let subscriptions = env.guard.stats().subscriptions;

    let old = deployment.sentinel.master_port();
    let mut sentinel = deployment.sentinel;
    let (sentinel, new) = tokio::task::spawn_blocking(move || {
        sentinel.wait_replicated();
        let new = sentinel.kill_master();
        (sentinel, new)
    })
    .await
    .unwrap();
    assert_ne!(old, new);

    // The subscription was lost with the master and is re-established on the new one.
    wait_until(Duration::from_secs(20), || {
        let s = env.guard.stats();
        s.subscribed && s.subscriptions > subscriptions
    })
    .await;
    // The guard's own store follows too (the first calls may still fail closed).
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match env.auth(&kept.token).await {
            Ok(_) => break,
            Err(GuardError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("guard did not recover after failover: {other:?}"),
        }
    }
    // Revoked before the failover: still refused.
    assert!(matches!(
        env.auth(&revoked_before.token).await,
        Err(GuardError::Revoked)
    ));
    // Revoked after the failover while cached as live: the notice from the new master
    // reaches the near-cache.
    env.cache_as_live(&revoked_after).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while let Err(e) = env.store.ping().await {
        assert!(Instant::now() < deadline, "store did not follow: {e:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        env.store
            .revoke_session(revoked_after.user, revoked_after.session, Timestamp::now())
            .await
            .unwrap()
    );
    env.refused_within_a_second(&revoked_after).await;
    assert!(env.auth(&kept.token).await.is_ok());
    drop(sentinel);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_subscription_and_checks_work() {
    let Some(tls) = crate::support::redis::private_tls().await else {
        return;
    };
    let env = Env::new(&tls.target, |_| {}).await;
    let login = env.login().await;
    env.cache_as_live(&login).await;
    env.store
        .revoke_session(login.user, login.session, Timestamp::now())
        .await
        .unwrap();
    env.refused_within_a_second(&login).await;
    drop(tls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_an_acl_user_with_exactly_tesseras_rules_the_subscription_and_checks_work() {
    let Some(redis) = crate::support::redis::private_standalone().await else {
        return;
    };
    let port = redis.server.port();
    let prefix = redis.target.config().key_prefix;
    let rules = tessera_store::redis::acl_rules(&prefix);
    let mut args = vec!["ACL", "SETUSER", "tessera", "on", ">s3cret-acl-pass"];
    args.extend(rules.iter().map(String::as_str));
    assert_eq!(redis.server.cli(&args).trim(), "OK");
    let target = redis
        .target
        .with_url(format!("redis://tessera:s3cret-acl-pass@127.0.0.1:{port}"));
    let env = Env::new(&target, |_| {}).await;
    let login = env.login().await;
    env.cache_as_live(&login).await;
    env.store
        .revoke_session(login.user, login.session, Timestamp::now())
        .await
        .unwrap();
    env.refused_within_a_second(&login).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_manual_failover_the_cache_never_outlives_the_old_masters_notices() {
    let Some(deployment) = private_sentinel().await else {
        return;
    };
    let env = Env::new(&deployment.target, |_| {}).await;
    let login = env.login().await;
    env.cache_as_live(&login).await;

    // SENTINEL FAILOVER: the old master stays up, and stays a master that no longer hears
    // the new master's notices, until Sentinel demotes it seconds later.
    let sentinel = deployment.sentinel;
    let (sentinel, new) = tokio::task::spawn_blocking(move || {
        sentinel.wait_replicated();
        let new = sentinel.start_failover();
        (sentinel, new)
    })
    .await
    .unwrap();
    // Until Sentinel announces +switch-master (a few hundred ms after the promotion) the
    // store still writes to the old master. Wait until it writes to the new one (a
    // bystander's login lands there), then revoke: the notice is published on the new
    // master only, which the guard's subscription on the old master does not hear.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let bystander = env.login().await;
        let key = tessera_store::redis::UserKeys::new(env.store.key_prefix(), bystander.user)
            .session(bystander.session);
        if tessera_testkit::cli(new, &["EXISTS", &key]).trim() == "1" {
            break;
        }
        assert!(Instant::now() < deadline, "the store never moved");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        env.store
            .revoke_session(login.user, login.session, Timestamp::now())
            .await
            .unwrap()
    );
    // The guard must not keep answering from its cache: within about one ping period
    // (1 s) it sees the master moved, flushes and re-subscribes.
    let deadline = Instant::now() + Duration::from_millis(2500);
    loop {
        match env.auth(&login.token).await {
            Err(GuardError::Revoked) => break,
            Ok(_) | Err(GuardError::Unavailable(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("revoked token still accepted after the failover: {other:?}"),
        }
    }
    drop(sentinel);
}
