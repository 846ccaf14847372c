//! Redis going away and coming back, on a private standalone server.

use std::time::{Duration, Instant};

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::redis::{RedisConfig, RedisStore};
use tessera_store::*;

use crate::support::fixtures::*;
use tessera_testkit::{RedisServer, TempDir, free_port, redis_available};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_fast_while_redis_is_down_and_recover_when_it_is_back() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("outage");
    let port = free_port();
    let mut server = RedisServer::start(port, dir.path(), &[]);
    let store = RedisStore::connect(RedisConfig::standalone(server.url()))
        .await
        .unwrap();
    let now = Timestamp::now();
    let o = open_default(&store, UserId::new(), now).await;
    assert_eq!(
        status(&store, check(&o, o.access, 0), now).await,
        AccessStatus::Active
    );

    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let err = store
            .check_access(check(&o, o.access, 0), RevocationMode::Allowlist, now)
            .await
            .expect_err("redis is down");
        assert!(err.is_unavailable(), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );
        let started = Instant::now();
        let err = store
            .create_session(new_session(o.user, now), now)
            .await
            .unwrap_err();
        assert!(err.is_unavailable(), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );
        assert!(store.ping().await.unwrap_err().is_unavailable());
    }

    // Same port, fresh (empty) server: the same store recovers by itself.
    let _server = RedisServer::start(port, dir.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.ping().await {
            Ok(()) => break,
            Err(e) => assert!(e.is_unavailable(), "{e:?}"),
        }
        assert!(Instant::now() < deadline, "store did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The data is gone: in allowlist mode that signs people out, it never revives anything.
    let now = Timestamp::now();
    assert_eq!(
        status(&store, check(&o, o.access, 0), now).await,
        AccessStatus::Revoked
    );
    // And new sessions work (scripts reloaded into the new server).
    let p = open_default(&store, UserId::new(), now).await;
    assert_eq!(
        status(&store, check(&p, p.access, 0), now).await,
        AccessStatus::Active
    );
}
