//! The real `tessera` binary: embedded default, persistence, Redis outage and Sentinel
//! failover, key rotation,
//! third-party verification, secrets kept out of logs.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tessera_testkit::{RedisSentinel, RedisServer, TempDir, free_port, redis_available};

use super::signin::decode;
use crate::common::binary::{Binary, command};
use crate::common::{PW, Session, email};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_default_serves_in_an_empty_directory_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    // The default issuer is derived from the listen address, which differs between the two
    // runs (free ports): pin it, as any deployment does.
    let issuer = [("TESSERA_ISSUER", "http://tessera.test")];
    let mut srv = Binary::serve(dir.path(), &issuer).await;
    let ready = srv.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::OK, "{ready:?}");
    assert_eq!(ready.body["state_store"]["backend"], "memory");
    assert_eq!(ready.body["database"]["backend"], "sqlite");
    // The binary serves its metrics (the in-process cases parse them with prometheus_client).
    let metrics = srv.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.body.as_str().unwrap_or_default();
    assert!(text.contains("\ntessera_state_store_up 1\n"), "{text}");
    assert!(text.contains("tessera_build_info{version="), "{text}");
    let e = email("embedded");
    let first = srv.signed_up(&e).await;
    assert_eq!(srv.me(&first.access).await.status, StatusCode::OK);
    let kid = decode(&first.access).0["kid"].clone();
    srv.stop();

    let data = dir.path().join("tessera-data");
    assert!(
        data.join("tessera.db").exists(),
        "SQLite file in the default data dir"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("keys.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "key file private to its owner");
    }

    let srv = Binary::serve(dir.path(), &issuer).await;
    let again = Session::from(&srv.login(&e, PW).await);
    assert_eq!(
        decode(&again.access).0["kid"],
        kid,
        "the signing key persisted"
    );
    let jwks = srv
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(jwks.body["keys"][0]["kid"], kid);
    assert_eq!(jwks.body["keys"][0]["kty"], "OKP");
    assert_eq!(jwks.body["keys"][0]["crv"], "Ed25519");
    // The memory store was lost with the process: the old session is gone (fail safe).
    assert_eq!(srv.me(&first.access).await.code(), Some("token_revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_is_fail_closed_and_service_resumes_without_restart() {
    if !redis_available() {
        return;
    }
    let redis_dir = TempDir::new("api-outage");
    let port = free_port();
    let mut redis = RedisServer::start(port, redis_dir.path(), &[]);
    let url = redis.url();
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Binary::serve(dir.path(), &[("REDIS_URL", &url)]).await;
    let e = email("outage");
    let before = srv.signed_up(&e).await;
    assert_eq!(srv.me(&before.access).await.status, StatusCode::OK);

    redis.stop();
    let started = Instant::now();
    let me = srv.me(&before.access).await;
    assert_eq!(
        (me.status, me.code()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("state_store_unavailable")
        )
    );
    assert!(me.is_problem());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "fails fast, took {:?}",
        started.elapsed()
    );
    let ready = srv.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["state_store"]["status"], "down");
    let r = srv.refresh(&before.refresh).await;
    assert_eq!(
        r.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "refresh fails closed too"
    );
    assert!(srv.running(), "no crash");

    let _redis = RedisServer::start(port, redis_dir.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if srv.call(Method::GET, "/readyz", None, None).await.status == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "not ready again: {}", srv.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Redis came back empty: the old token is refused (allowlist), never revived.
    assert_eq!(srv.me(&before.access).await.code(), Some("token_revoked"));
    let after = Session::from(&srv.login(&e, PW).await);
    assert_eq!(srv.me(&after.access).await.status, StatusCode::OK);
    assert_eq!(srv.refresh(&after.refresh).await.status, StatusCode::OK);
    let logs = srv.logs();
    for secret in [
        PW,
        before.access.as_str(),
        before.refresh.as_str(),
        after.refresh.as_str(),
    ] {
        assert!(!logs.contains(secret), "a secret reached the logs");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_sentinel_the_api_survives_a_failover_and_logouts_stay_effective() {
    if !redis_available() {
        return;
    }
    let sentinel = tokio::task::spawn_blocking(|| RedisSentinel::start(1))
        .await
        .unwrap();
    let url = sentinel.url();
    let dir = tempfile::tempdir().unwrap();
    let srv = Binary::serve(dir.path(), &[("REDIS_URL", &url)]).await;
    let e = email("sentinel");
    let kept = srv.signed_up(&e).await;
    let ended = Session::from(&srv.login(&e, PW).await);
    assert_eq!(srv.me(&kept.access).await.status, StatusCode::OK);
    assert_eq!(
        srv.logout(&ended.access).await.status,
        StatusCode::NO_CONTENT
    );

    let sentinel = tokio::task::spawn_blocking(move || {
        let mut sentinel = sentinel;
        sentinel.wait_replicated();
        sentinel.kill_master();
        sentinel
    })
    .await
    .unwrap();
    // 503 (fail-closed) until the server has found the new master, then 200 again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let me = srv.me(&kept.access).await;
        if me.status == StatusCode::OK {
            break;
        }
        assert_eq!(me.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", me.body);
        assert!(Instant::now() < deadline, "no recovery: {}", srv.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(srv.me(&ended.access).await.code(), Some("token_revoked"));
    let r = Session::from(&srv.refresh(&kept.refresh).await);
    assert_eq!(srv.logout(&r.access).await.status, StatusCode::NO_CONTENT);
    assert_eq!(srv.me(&r.access).await.code(), Some("token_revoked"));
    drop(sentinel);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_at_start_serves_not_ready_then_connects() {
    if !redis_available() {
        return;
    }
    let redis_dir = TempDir::new("api-late-redis");
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let srv = Binary::serve(dir.path(), &[("REDIS_URL", &url)]).await;
    let ready = srv.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    let e = email("late");
    // Even registration fails closed: its rate limit lives in the state store.
    let reg = srv.register(&e, PW).await;
    assert_eq!(
        (reg.status, reg.code()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("state_store_unavailable")
        )
    );
    let login = srv.login(&e, PW).await;
    assert_eq!(
        (login.status, login.code()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("state_store_unavailable")
        )
    );

    let _redis = RedisServer::start(port, redis_dir.path(), &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while srv.call(Method::GET, "/readyz", None, None).await.status != StatusCode::OK {
        assert!(Instant::now() < deadline, "never connected: {}", srv.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(srv.register(&e, PW).await.status, StatusCode::CREATED);
    let s = Session::from(&srv.login(&e, PW).await);
    assert_eq!(srv.me(&s.access).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_takes_effect_without_restart_and_old_tokens_keep_working() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Binary::serve(dir.path(), &[]).await;
    let old = srv.signed_up(&email("rotate")).await;
    let old_kid = decode(&old.access).0["kid"].as_str().unwrap().to_owned();

    let out = command(&["keys", "rotate"], dir.path(), &[])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(printed.contains("new signing key"), "{printed}");

    let deadline = Instant::now() + Duration::from_secs(15);
    let mut refresh = old.refresh.clone();
    let new_kid = loop {
        let fresh = Session::from(&srv.refresh(&refresh).await);
        refresh = fresh.refresh.clone();
        let kid = decode(&fresh.access).0["kid"].as_str().unwrap().to_owned();
        if kid != old_kid {
            assert_eq!(srv.me(&fresh.access).await.status, StatusCode::OK);
            break kid;
        }
        assert!(Instant::now() < deadline, "rotation not picked up");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let jwks = srv
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str())
        .collect();
    assert!(
        kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()),
        "{kids:?}"
    );
    assert_eq!(
        srv.me(&old.access).await.status,
        StatusCode::OK,
        "token signed by the old key still verifies"
    );

    let list = command(&["keys", "list"], dir.path(), &[])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(&old_kid) && listed.contains("retired") && listed.contains("active"),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_verifies_our_tokens_from_our_jwks() {
    let has_pyjwt = Command::new("python3")
        .args(["-c", "import jwt, cryptography"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_pyjwt {
        tessera_testkit::services::missing("python3 with PyJWT[crypto]");
        return;
    }
    for alg in ["EdDSA", "ES256", "RS256"] {
        let dir = tempfile::tempdir().unwrap();
        let srv = Binary::serve(dir.path(), &[("TESSERA_SIGNING_ALG", alg)]).await;
        let session = srv.signed_up(&email("pyjwt")).await;
        let issuer = format!("http://127.0.0.1:{}", srv.port);
        let script = "import jwt,sys\n\
            c=jwt.PyJWKClient(sys.argv[1]+'/.well-known/jwks.json')\n\
            k=c.get_signing_key_from_jwt(sys.argv[2])\n\
            d=jwt.decode(sys.argv[2],k.key,algorithms=[sys.argv[4]],audience='tessera',issuer=sys.argv[3])\n\
            print('ok',d['sub'],jwt.get_unverified_header(sys.argv[2])['typ'])\n";
        let out = Command::new("python3")
            .args(["-c", script, &srv.base, &session.access, &issuer, alg])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.starts_with("ok") && stdout.contains("at+jwt"),
            "{alg}: {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_operates_on_the_servers_store_and_database() {
    if !redis_available() {
        return;
    }
    let redis_dir = TempDir::new("api-cli");
    let redis = RedisServer::start(free_port(), redis_dir.path(), &[]);
    let url = redis.url();
    // Server and CLI must agree on the issuer, as in any deployment (the default is derived
    // from the listen address, which the CLI does not have).
    let env = [
        ("REDIS_URL", url.as_str()),
        ("TESSERA_ISSUER", "http://tessera.test"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let srv = Binary::serve(dir.path(), &env).await;
    let e = email("cli");
    let a = srv.signed_up(&e).await;
    let b = Session::from(&srv.login(&e, PW).await);
    let cli = |args: &[&str]| {
        let out = command(args, dir.path(), &env).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (ok, out, err) = cli(&["sessions", "list", "--user", &e]);
    assert!(
        ok && out.contains(&a.id) && out.contains(&b.id),
        "{out} {err}"
    );
    let (ok, out, _) = cli(&["revoke", "session", &b.id]);
    assert!(ok, "{out}");
    assert_eq!(srv.me(&b.access).await.code(), Some("token_revoked"));
    assert_eq!(srv.me(&a.access).await.status, StatusCode::OK);
    let (ok, _, err) = cli(&["revoke", "session", &uuid::Uuid::now_v7().to_string()]);
    assert!(
        !ok && !err.trim().is_empty(),
        "unknown session: non-zero exit and a message"
    );
    let (ok, _, err) = cli(&["sessions", "list", "--user", "nobody@example.org"]);
    assert!(!ok && err.contains("no user"), "{err}");

    let (ok, out, err) = cli(&["revoke", "token", &a.access]);
    assert!(ok, "{out} {err}");
    assert_eq!(srv.me(&a.access).await.code(), Some("token_revoked"));
    let a2 = Session::from(&srv.refresh(&a.refresh).await);
    let jti = decode(&a2.access).1["jti"].as_str().unwrap().to_owned();
    let (ok, _, err) = cli(&["revoke", "token", &jti]);
    assert!(!ok && err.contains("--user"), "{err}");
    let (ok, _, err) = cli(&["revoke", "token", &jti, "--user", &e]);
    assert!(ok, "{err}");
    assert_eq!(srv.me(&a2.access).await.code(), Some("token_revoked"));

    let c = Session::from(&srv.login(&e, PW).await);
    let (ok, _, err) = cli(&["revoke", "user", &e]);
    assert!(ok, "{err}");
    assert_eq!(srv.me(&c.access).await.code(), Some("token_revoked"));

    let (ok, _, err) = cli(&["ban", &e, "--reason", "testing"]);
    assert!(ok, "{err}");
    assert_eq!(srv.login(&e, PW).await.code(), Some("account_disabled"));
    let (ok, _, err) = cli(&["unban", &e]);
    assert!(ok, "{err}");
    let d = Session::from(&srv.login(&e, PW).await);
    let (ok, out, err) = cli(&["stats"]);
    assert!(
        ok && out.contains("sessions_active\t") && !out.contains("\\t") && out.contains("users"),
        "{out} {err}"
    );
    assert_eq!(srv.me(&d.access).await.status, StatusCode::OK);

    // The CLI went through the same service path as the API: the same security events,
    // marked as the operator's doing.
    let r = srv
        .call(
            Method::GET,
            "/v1/security-events?limit=100",
            None,
            Some(&d.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let events = r.body["events"].as_array().unwrap();
    let of = |kind: &str| -> Vec<&serde_json::Value> {
        events.iter().filter(|e| e["type"] == kind).collect()
    };
    let ended = of("session_revoked");
    assert!(
        ended
            .iter()
            .any(|e| e["session_id"] == b.id.as_str() && e["details"]["via"] == "admin"),
        "{events:?}"
    );
    let tokens = of("token_revoked");
    assert_eq!(tokens.len(), 2, "{events:?}");
    assert!(tokens.iter().all(|e| e["details"]["via"] == "admin"));
    for kind in [
        "sessions_revoked_by_admin",
        "account_banned",
        "account_unbanned",
    ] {
        assert_eq!(of(kind).len(), 1, "{kind}: {events:?}");
    }

    // The memory store lives inside the server: the CLI says so instead of acting on nothing.
    let out = command(&["stats"], dir.path(), &[]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("REDIS_URL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_survives_a_restart_of_the_server_and_its_state_store() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("TESSERA_ADMIN_TOKEN", "admin-secret-for-tests-0123456789")];
    let mut srv = Binary::serve(dir.path(), &env).await;
    let e = email("durable-ban");
    let uid = srv.register(&e, PW).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = srv
        .call(
            Method::POST,
            &format!("/v1/admin/users/{uid}/ban"),
            Some(serde_json::json!({"reason": "x"})),
            Some(env[0].1),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    srv.stop();
    let srv = Binary::serve(dir.path(), &env).await;
    assert_eq!(
        srv.login(&e, PW).await.code(),
        Some("account_disabled"),
        "the ban is durable (SQL)"
    );
}
