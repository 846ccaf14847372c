//! Failure: a dropped subscription empties and bypasses the near-cache until it is back (no
//! stale accept); Redis down answers 503 unless fail-open is configured.

use std::process::Command;
use std::time::Duration;

use tessera_core::time::Timestamp;
use tessera_guard::{FailMode, GuardError};
use tessera_store::SessionStore;

use crate::support::redis::private_standalone;
use crate::support::{Env, wait_until};

fn cli(port: u16, password: Option<&str>, args: &[&str]) -> String {
    let mut c = Command::new("redis-cli");
    c.arg("-p").arg(port.to_string());
    if let Some(p) = password {
        c.args(["-a", p, "--no-auth-warning"]);
    }
    let out = c.args(args).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_subscription_flushes_the_cache_and_it_recovers() {
    let Some(redis) = private_standalone().await else {
        return;
    };
    let port = redis.server.port();
    let env = Env::new(&redis.target, |_| {}).await;
    let login = env.login().await;
    env.cache_as_live(&login).await;
    let before = env.guard.stats();
    assert_eq!(before.subscriptions, 1);

    let killed = cli(port, None, &["CLIENT", "KILL", "TYPE", "pubsub"]);
    assert_eq!(killed.trim(), "1", "one subscriber connection killed");
    wait_until(Duration::from_secs(5), || {
        env.guard.stats().subscriptions >= 2
    })
    .await;
    // The cache was emptied when the drop was seen: the next check goes to Redis.
    let checks = env.guard.stats().store_checks;
    env.auth(&login.token).await.unwrap();
    assert_eq!(env.guard.stats().store_checks, checks + 1);
    // And once re-subscribed, it caches again and follows notices again.
    env.cache_as_live(&login).await;
    env.store
        .revoke_session(login.user, login.session, Timestamp::now())
        .await
        .unwrap();
    env.refused_within_a_second(&login).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_unsubscribed_every_check_goes_to_redis_and_a_revocation_is_never_missed() {
    let Some(redis) = private_standalone().await else {
        return;
    };
    let port = redis.server.port();
    let env = Env::new(&redis.target, |_| {}).await;
    let login = env.login().await;
    env.cache_as_live(&login).await;

    // New connections now fail to authenticate, so the subscription cannot come back;
    // the established store connections keep working.
    cli(port, None, &["CONFIG", "SET", "requirepass", "s3cret"]);
    cli(port, Some("s3cret"), &["CLIENT", "KILL", "TYPE", "pubsub"]);
    wait_until(Duration::from_secs(5), || !env.guard.stats().subscribed).await;
    assert_eq!(env.guard.stats().cached, 0, "cache emptied on the drop");

    let checks = env.guard.stats().store_checks;
    for _ in 0..3 {
        env.auth(&login.token).await.unwrap();
    }
    let s = env.guard.stats();
    assert_eq!(
        s.store_checks,
        checks + 3,
        "bypassed: every check asks Redis"
    );
    assert!(!s.subscribed);

    // The notice of this revocation reaches nobody: the refusal comes from Redis itself.
    env.store
        .revoke_session(login.user, login.session, Timestamp::now())
        .await
        .unwrap();
    assert!(matches!(
        env.auth(&login.token).await,
        Err(GuardError::Revoked)
    ));

    // Recovery.
    cli(port, Some("s3cret"), &["CONFIG", "SET", "requirepass", ""]);
    wait_until(Duration::from_secs(10), || env.guard.stats().subscribed).await;
    let again = env.login().await;
    env.cache_as_live(&again).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_even_for_cached_tokens() {
    let Some(mut redis) = private_standalone().await else {
        return;
    };
    let env = Env::new(&redis.target, |_| {}).await;
    let login = env.login().await;
    env.cache_as_live(&login).await;
    tokio::task::block_in_place(|| redis.server.stop());
    wait_until(Duration::from_secs(5), || !env.guard.stats().subscribed).await;
    match env.auth(&login.token).await {
        Err(e @ GuardError::Unavailable(_)) => {
            assert_eq!(e.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        }
        other => panic!("expected 503, got {other:?}"),
    }
    // Verification still comes first: a forged token is 401, not 503.
    assert!(matches!(
        env.auth("not.a.token").await,
        Err(GuardError::InvalidToken(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_with_fail_open_accepts_verified_tokens_only() {
    let Some(mut redis) = private_standalone().await else {
        return;
    };
    let env = Env::new(&redis.target, |c| c.fail_mode = FailMode::Open).await;
    let login = env.login().await;
    env.auth(&login.token).await.unwrap();
    tokio::task::block_in_place(|| redis.server.stop());
    wait_until(Duration::from_secs(5), || !env.guard.stats().subscribed).await;
    assert_eq!(env.auth(&login.token).await.unwrap(), login.claims);
    assert!(matches!(
        env.auth("not.a.token").await,
        Err(GuardError::InvalidToken(_))
    ));
}
