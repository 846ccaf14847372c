//! A partial loss of the state store (issue 13, item 4), through the real binary on Redis
//! Sentinel: the replica's replication link is cut (the master refuses it a resync), a
//! session is logged out — a write only the master holds — the master is killed and the
//! replica promoted. Before revocations waited for the promotable replicas, that logout
//! answered 204 and the session answered 200 again after the failover. Now the logout is
//! not acknowledged while a replica that could be promoted lacks it (503: the client
//! retries), and once acknowledged it holds. The server runs as the documented ACL user.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tessera_testkit::{RedisSentinel, redis_available};

use crate::common::binary::Binary;
use crate::common::{PW, Session, email};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_the_promoted_replica_lacks_is_never_answered_done() {
    if !redis_available() {
        return;
    }
    let sentinel = tokio::task::spawn_blocking(|| RedisSentinel::start(1))
        .await
        .unwrap();
    // As the documented ACL user (on both data nodes: ACLs are not replicated), so the
    // barrier's commands are proven to be in the rules.
    let mut rules = vec!["ACL", "SETUSER", "tessera", "on", ">pw-0123456789"];
    let acl = tessera_store::redis::acl_rules("ts:");
    rules.extend(acl.iter().map(String::as_str));
    for port in sentinel.data_ports() {
        let out = sentinel.raw_cli(port, &rules);
        assert!(out.contains("OK"), "ACL SETUSER: {out}");
    }
    let url = sentinel.url_with_userinfo("tessera:pw-0123456789@");
    let dir = tempfile::tempdir().unwrap();
    let srv = Binary::serve(dir.path(), &[("REDIS_URL", &url)]).await;
    let e = email("partial-loss");
    let kept = srv.signed_up(&e).await;
    let ended = Session::from(&srv.login(&e, PW).await);

    // Cut the link: the master refuses the replica's resync, and the replica drops it.
    let sentinel = tokio::task::spawn_blocking(move || {
        sentinel.wait_replicated();
        let out = sentinel.master_cli(&["ACL", "SETUSER", "default", "-psync", "-sync"]);
        assert!(out.contains("OK"), "ACL SETUSER: {out}");
        let replica = sentinel.replica_port();
        sentinel.raw_cli(replica, &["CLIENT", "KILL", "TYPE", "master"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sentinel
            .raw_cli(replica, &["INFO", "replication"])
            .contains("master_link_status:down")
        {
            assert!(Instant::now() < deadline, "the replication link stays up");
            std::thread::sleep(Duration::from_millis(50));
        }
        sentinel
    })
    .await
    .unwrap();

    let r = srv.logout(&ended.access).await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "a logout the replica never received was answered: {r:?}"
    );
    assert!(
        srv.logs().contains("NotReplicated"),
        "the refusal names its cause: {}",
        srv.logs()
    );

    let sentinel = tokio::task::spawn_blocking(move || {
        let mut sentinel = sentinel;
        sentinel.kill_master();
        sentinel
    })
    .await
    .unwrap();
    // The server finds the new master; the kept session works there.
    let deadline = Instant::now() + Duration::from_secs(20);
    while srv.me(&kept.access).await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "no recovery: {}", srv.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The unacknowledged logout did not happen on the new master: the client retries it.
    // With the old master dead no replica can be promoted, so nothing is waited for.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = srv.logout(&ended.access).await;
        if r.status == StatusCode::NO_CONTENT {
            break;
        }
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
        assert!(
            Instant::now() < deadline,
            "logout never held: {}",
            srv.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(srv.me(&ended.access).await.code(), Some("token_revoked"));
    assert_eq!(
        srv.refresh(&ended.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    drop(sentinel);
}
