//! The real `tessera` binary: embedded default, persistence, Redis outage and Sentinel
//! failover, key rotation,
//! third-party verification, secrets kept out of logs.

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tessera_testkit::{RedisSentinel, RedisServer, TempDir, free_port, redis_available};

use super::signin::decode;
use crate::common::binary::{Binary, command};
use crate::common::{PW, Session, email, keys};

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
        let mode = std::fs::metadata(data.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "generated master key private to its owner");
    }
    assert!(
        !data.join("keys.json").exists(),
        "keys live in the database, not in a file"
    );

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

/// A private Redis kept running while it lives.
type PrivateRedis = Option<(RedisServer, TempDir)>;

/// The environments of a binary on the memory store and, when `redis-server` is there, on
/// a private Redis of its own (kept running while the returned guard lives).
fn memory_and_redis(tag: &str) -> (PrivateRedis, Vec<Vec<(&'static str, String)>>) {
    let redis = redis_available().then(|| {
        let dir = TempDir::new(tag);
        let server = RedisServer::start(free_port(), dir.path(), &[]);
        (server, dir)
    });
    let mut backends = vec![vec![]];
    if let Some((server, _)) = &redis {
        backends.push(vec![("REDIS_URL", server.url())]);
    }
    (redis, backends)
}

/// The real binary (full Argon2 cost) on the memory store and on Redis: 24 concurrent wrong
/// passwords for one account get exactly 10 checks, and a stolen access token can neither
/// add nor remove a second factor without the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_holds_the_sign_in_budget_under_concurrent_guesses() {
    let (_redis, backends) = memory_and_redis("api-budget");
    for env in backends {
        let dir = tempfile::tempdir().unwrap();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let srv = Binary::serve(dir.path(), &env).await;
        let e = email("bin-budget");
        let sess = srv.signed_up(&e).await;
        let srv = &srv;
        let e = &e;
        let guesses = (0..24).map(|_| async move { srv.login(e, "wrong password 123456").await });
        let replies = futures::future::join_all(guesses).await;
        let count = |status: StatusCode| replies.iter().filter(|r| r.status == status).count();
        assert_eq!(count(StatusCode::UNAUTHORIZED), 10, "{env:?}");
        assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 14, "{env:?}");
        // The stolen token alone: no factor added, none removed.
        for (method, body) in [
            (Method::POST, serde_json::json!({})),
            (Method::DELETE, serde_json::json!({"code": "123456"})),
        ] {
            let r = srv
                .call(method, "/v1/mfa/totp", Some(body), Some(&sess.access))
                .await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
        }
        assert_eq!(srv.me(&sess.access).await.body["mfa_enabled"], false);
    }
}

/// Registers `e` on `srv` and turns TOTP on; returns the secret.
pub(crate) async fn enrol_totp(srv: &Binary, e: &str) -> String {
    let sess = srv.signed_up(e).await;
    let en = srv
        .call(
            Method::POST,
            "/v1/mfa/totp",
            Some(serde_json::json!({"password": PW})),
            Some(&sess.access),
        )
        .await;
    let secret = en.str("secret");
    crate::common::totp::fresh_step().await;
    let conf = srv
        .call(
            Method::POST,
            "/v1/mfa/totp/confirm",
            Some(serde_json::json!({"code": crate::common::totp::totp_now(&secret, 0)})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(conf.status, StatusCode::OK, "{conf:?}");
    secret
}

/// `tessera serve` that is expected to refuse to start: its exit status and stderr.
pub(crate) fn serve_refused(
    cwd: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::ExitStatus, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut all = vec![("TESSERA_LISTEN", listen.as_str())];
    all.extend_from_slice(env);
    let mut child = command(&["serve"], cwd, &all)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "tessera kept serving with a data key that cannot open the enrolled factors: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Signs in with the password and completes the second factor.
pub(crate) async fn sign_in_with_totp(srv: &Binary, e: &str, secret: &str) {
    let ch = srv.login(e, PW).await;
    assert_eq!(ch.body["mfa_required"], true, "{ch:?}");
    crate::common::totp::fresh_step().await;
    let done = srv
        .call(
            Method::POST,
            "/v1/auth/mfa",
            Some(serde_json::json!({
                "challenge_id": ch.str("challenge_id"),
                "code": crate::common::totp::totp_now(secret, 0),
            })),
            None,
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_key_that_cannot_open_the_enrolled_factors_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Binary::serve(dir.path(), &[]).await;
    let e = email("data-key");
    let secret = enrol_totp(&srv, &e).await;
    srv.stop();
    let data = dir.path().join("tessera-data");
    let db = keys::database(&keys::sqlite_url(&data)).await;
    let original = keys::snapshot(&db).await;
    let enrolled_with = keys::data_key_id(&data, &db).await;
    let key_ids = || async {
        use sqlx::Row;
        sqlx::query("SELECT key_id FROM mfa_totp UNION ALL SELECT key_id FROM mfa_recovery_codes")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.try_get::<Option<String>, _>(0).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(key_ids().await, vec![Some(enrolled_with.clone()); 11]);

    // Rows from before key ids were recorded are checked by opening them: with another data
    // key they do not open, and the start is refused.
    for statement in [
        "UPDATE mfa_totp SET key_id = NULL",
        "UPDATE mfa_recovery_codes SET key_id = NULL",
    ] {
        sqlx::query(statement).execute(db.pool()).await.unwrap();
    }
    let replaced = keys::set_data_key(&data, &db, 9).await;
    let (status, err) = serve_refused(dir.path(), &[]);
    assert!(!status.success(), "{status}");
    let expected = format!(
        "1 enrolled second factor was sealed before key ids were recorded and does not open with data key {replaced}"
    );
    assert!(err.contains(&expected), "{expected}\n{err}");
    // With their own key they open, and are marked with its id.
    keys::restore(&db, &original).await;
    let mut srv = Binary::serve(dir.path(), &[]).await;
    sign_in_with_totp(&srv, &e, &secret).await;
    srv.stop();
    assert_eq!(key_ids().await, vec![Some(enrolled_with.clone()); 11]);

    // Another data key in the database.
    keys::set_data_key(&data, &db, 9).await;
    let (status, err) = serve_refused(dir.path(), &[]);
    assert!(!status.success(), "{status}");
    let expected = format!(
        "1 enrolled second factor was sealed with data key {enrolled_with}, but the database holds data key {replaced}"
    );
    assert!(err.contains(&expected), "{expected}\n{err}");
    assert!(err.contains("restore the keys"), "{err}");

    // No keys at all (a database restored without them): new ones are made, and the start
    // refused.
    keys::forget(&db).await;
    let (status, err) = serve_refused(dir.path(), &[]);
    assert!(!status.success(), "{status}");
    assert!(
        err.contains(&format!("sealed with data key {enrolled_with}")),
        "{err}"
    );

    // The right keys: it starts, and the second factor works.
    keys::restore(&db, &original).await;
    let srv = Binary::serve(dir.path(), &[]).await;
    sign_in_with_totp(&srv, &e, &secret).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_mfa_reset_clears_a_factor_the_key_cannot_open_and_mails_the_user() {
    if !redis_available() {
        return;
    }
    let redis_dir = TempDir::new("api-cli-mfa");
    let redis = RedisServer::start(free_port(), redis_dir.path(), &[]);
    let url = redis.url();
    let env = [("REDIS_URL", url.as_str())];
    let dir = tempfile::tempdir().unwrap();
    let mut srv = Binary::serve(dir.path(), &env).await;
    let e = email("cli-mfa");
    let other = email("cli-mfa-other");
    let secret = enrol_totp(&srv, &e).await;
    let _ = srv.signed_up(&other).await;
    let cli = |args: &[&str]| {
        let out = command(args, dir.path(), &env).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = cli(&["mfa", "reset", &other]);
    assert!(ok && out.contains("has no second factor"), "{out} {err}");
    let (ok, _, err) = cli(&["mfa", "reset", "nobody@example.org"]);
    assert!(!ok && err.contains("no user"), "{err}");
    srv.stop();

    // The data key is lost for good: the server refuses, the CLI is the way out.
    let data = dir.path().join("tessera-data");
    keys::set_data_key(&data, &keys::database(&keys::sqlite_url(&data)).await, 7).await;
    let (status, err) = serve_refused(dir.path(), &env);
    assert!(
        !status.success() && err.contains("tessera mfa reset"),
        "{err}"
    );
    let (ok, out, err) = cli(&["mfa", "reset", &e]);
    assert!(
        ok && out.contains("reset the second factor") && out.contains("told by mail"),
        "{out} {err}"
    );
    let outbox: Vec<String> = std::fs::read_dir(dir.path().join("tessera-data").join("outbox"))
        .unwrap()
        .filter_map(|f| std::fs::read_to_string(f.unwrap().path()).ok())
        .filter(|m| m.contains(&format!("To: {e}\r\n")))
        .collect();
    assert_eq!(outbox.len(), 1, "the user is told");
    assert!(outbox[0].contains("Subject: Your two-step sign-in was reset"));

    let srv = Binary::serve(dir.path(), &env).await;
    let r = srv.login(&e, PW).await;
    assert!(
        r.body.get("access_token").is_some(),
        "password alone: {r:?}"
    );
    let _ = secret;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trusted_proxies_from_the_environment_name_the_client_in_sessions_and_logs() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(
        &["serve"],
        dir.path(),
        &[("TESSERA_TRUSTED_PROXIES", "10.0.0.0/8, 10.0.0.0/33")],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && stderr.contains("trusted_proxies")
            && stderr.contains("10.0.0.0/33"),
        "{stderr}"
    );
    let srv = Binary::serve(
        dir.path(),
        &[
            ("TESSERA_TRUSTED_PROXIES", "127.0.0.1/32,::1"),
            ("RUST_LOG", "info,tower_http=debug"),
        ],
    )
    .await;
    let e = email("bin-proxy");
    srv.register(&e, PW).await;
    let r = srv
        .call_with(
            Method::POST,
            "/v1/auth/login",
            Some(serde_json::json!({"email": e, "password": PW})),
            &[("x-forwarded-for", "203.0.113.50, 198.51.100.23")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let session = Session::from(&r);
    let list = srv
        .call(Method::GET, "/v1/sessions", None, Some(&session.access))
        .await;
    assert_eq!(list.body["sessions"][0]["ip"], "198.51.100.23", "{list:?}");
    let logs = srv.logs();
    assert!(logs.contains("\"client\":\"198.51.100.23\""), "{logs}");
}

/// A fake Redis that answers `INFO` as Redis 6.2.14 (and `+OK` to anything else), for the
/// version refusal: no real Redis that old is installed.
async fn fake_redis_6() -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                // RESP arrays: `*N`, then `$len` / value pairs; the first value is the command.
                while let Ok(Some(line)) = lines.next_line().await {
                    let Some(n) = line.strip_prefix('*').and_then(|n| n.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    let mut args = Vec::new();
                    for _ in 0..n {
                        let _len = lines.next_line().await;
                        if let Ok(Some(v)) = lines.next_line().await {
                            args.push(v);
                        }
                    }
                    let reply = if args.first().is_some_and(|c| c.eq_ignore_ascii_case("INFO")) {
                        let body = "# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n";
                        format!("${}\r\n{body}\r\n", body.len())
                    } else {
                        "+OK\r\n".to_owned()
                    };
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_older_than_7_refuses_start_with_its_version_instead_of_retrying() {
    let port = fake_redis_6().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("redis://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = command(
        &["serve"],
        dir.path(),
        &[("REDIS_URL", &url), ("TESSERA_LISTEN", &listen)],
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "tessera kept running against Redis 6.2.14: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("Redis 6.2.14 is too old: Tessera needs Redis 7.0 or later"),
        "{stderr}"
    );
    assert!(!stderr.contains("retrying"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_evicting_redis_is_named_in_a_start_up_warning() {
    if !redis_available() {
        return;
    }
    for (policy, warned) in [("allkeys-lru", true), ("noeviction", false)] {
        let redis_dir = TempDir::new("api-eviction");
        let port = free_port();
        let _redis = RedisServer::start(port, redis_dir.path(), &["--maxmemory-policy", policy]);
        let url = format!("redis://127.0.0.1:{port}");
        let dir = tempfile::tempdir().unwrap();
        let mut srv = Binary::serve(dir.path(), &[("REDIS_URL", &url)]).await;
        let logs = srv.logs();
        srv.stop();
        let warning = logs
            .lines()
            .find(|l| l.contains("maxmemory-policy") && l.contains("\"WARN\""));
        assert_eq!(warning.is_some(), warned, "{policy}: {logs}");
        if let Some(w) = warning {
            assert!(
                w.contains("allkeys-lru") && w.contains("noeviction") && w.contains("denylist"),
                "{w}"
            );
        }
    }
}

/// Issue-11 hardening through the real binary on the memory store and on Redis, for the
/// items the in-process suite covers per backend: a refresh token two rotations old revokes
/// the session (theft), a CSRF value of another session is refused, wrong admin tokens are
/// limited, an impossible trusted-device id is 404 (not an outage), and secrets are served
/// `no-store`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_hardening_holds_on_memory_and_redis() {
    let (_redis, backends) = memory_and_redis("api-hardening");
    const ADMIN: &str = "admin-token-0123456789abcdef";
    for extra in backends {
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend([
            ("TESSERA_TOKEN_TRANSPORT", "both"),
            ("TESSERA_ADMIN_TOKEN", ADMIN),
        ]);
        let srv = Binary::serve(dir.path(), &env).await;

        // Theft detection for every older generation.
        let e = email("bin-theft");
        let victim = srv.signed_up(&e).await;
        let first = Session::from(&srv.refresh(&victim.refresh).await);
        let second = Session::from(&srv.refresh(&first.refresh).await);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let replay = srv.refresh(&victim.refresh).await;
        assert_eq!(
            replay.code(),
            Some("refresh_token_reused"),
            "{env:?}: {replay:?}"
        );
        assert_eq!(
            srv.refresh(&second.refresh).await.code(),
            Some("invalid_refresh_token")
        );
        assert_eq!(srv.me(&second.access).await.code(), Some("token_revoked"));

        // The CSRF cookie is bound to its session.
        let a = srv.login(&e, PW).await;
        let b = srv.login(&e, PW).await;
        let (at_a, csrf_b) = (
            a.cookies()["__Host-tessera_at"].0.clone(),
            b.cookies()["__Host-tessera_csrf"].0.clone(),
        );
        let jar = format!("__Host-tessera_at={at_a}; __Host-tessera_csrf={csrf_b}");
        let r = srv
            .call_with(
                Method::POST,
                "/v1/auth/logout",
                None,
                &[("cookie", &jar), ("x-csrf-token", &csrf_b)],
            )
            .await;
        assert_eq!(r.code(), Some("csrf_failed"), "{env:?}: {r:?}");

        // Wrong admin tokens: 40 at once against a budget of 20.
        let srv_ref = &srv;
        let guesses = (0..40).map(|i| async move {
            srv_ref
                .with_authorization("/v1/admin/stats", &format!("Bearer guess-{i}"))
                .await
                .status
        });
        let statuses = futures::future::join_all(guesses).await;
        let n = |s: StatusCode| statuses.iter().filter(|x| **x == s).count();
        assert_eq!(
            (
                n(StatusCode::UNAUTHORIZED),
                n(StatusCode::TOO_MANY_REQUESTS)
            ),
            (20, 20),
            "{env:?}"
        );

        // User input is not an outage; secrets are never cached.
        let sess = Session::from(&srv.login(&e, PW).await);
        let long = "x".repeat(300);
        let r = srv
            .call(
                Method::DELETE,
                &format!("/v1/devices/trusted/{long}"),
                None,
                Some(&sess.access),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{env:?}: {r:?}");
        let en = srv
            .call(
                Method::POST,
                "/v1/mfa/totp",
                Some(serde_json::json!({"password": PW})),
                Some(&sess.access),
            )
            .await;
        assert_eq!(en.status, StatusCode::OK, "{en:?}");
        assert_eq!(en.headers["cache-control"], "no-store");
    }
}

/// The operator's revocations through the CLI and through the admin API are one service
/// call (`AdminService`): revoking every session of a user, a ban and an unban leave the same
/// security events whichever way they were asked for, and the CLI's `revoke session` and
/// `revoke token` leave the events of the shared session step, marked `via: "admin"`. The
/// CLI needs a state store it can reach, so only the Redis environment of
/// [`memory_and_redis`] runs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_and_admin_api_revocations_leave_the_same_security_events() {
    const ADMIN: &str = "admin-token-0123456789abcdef";
    let (_redis, backends) = memory_and_redis("api-cli-events");
    for extra in backends.iter().filter(|env| !env.is_empty()) {
        let dir = tempfile::tempdir().unwrap();
        let mut env: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        env.extend([
            ("TESSERA_ISSUER", "http://tessera.test"),
            ("TESSERA_ADMIN_TOKEN", ADMIN),
        ]);
        let srv = Binary::serve(dir.path(), &env).await;
        let cli = |args: &[&str]| {
            let out = command(args, dir.path(), &env).output().unwrap();
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let admin = |method: Method, path: String, body: Option<serde_json::Value>| {
            let srv = &srv;
            async move {
                let r = srv.call(method, &path, body, Some(ADMIN)).await;
                assert_eq!(r.status, StatusCode::NO_CONTENT, "{path}: {r:?}");
            }
        };
        // The events of `e` other than its sign-ins, without their ids and times.
        let events_of = |e: String| {
            let srv = &srv;
            async move {
                let reader = Session::from(&srv.login(&e, PW).await);
                let r = srv
                    .call(
                        Method::GET,
                        "/v1/security-events?limit=100",
                        None,
                        Some(&reader.access),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{r:?}");
                let mut events: Vec<serde_json::Value> = r.body["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|ev| ev["type"] != "login")
                    .map(|ev| {
                        let mut ev = ev.clone();
                        let map = ev.as_object_mut().unwrap();
                        map.remove("id");
                        map.remove("at");
                        ev
                    })
                    .collect();
                events.reverse();
                events
            }
        };
        let mut by = Vec::new();
        for via_cli in [true, false] {
            let e = email(if via_cli { "ops-cli" } else { "ops-api" });
            let r = srv.register(&e, PW).await;
            assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
            let uid = r.body["user"]["id"].as_str().unwrap().to_owned();
            let first = Session::from(&srv.login(&e, PW).await);
            let second = Session::from(&srv.login(&e, PW).await);
            if via_cli {
                cli(&["revoke", "user", &e]);
                cli(&["ban", &e, "--reason", "testing"]);
                cli(&["unban", &uid]);
            } else {
                admin(
                    Method::POST,
                    format!("/v1/admin/users/{uid}/revoke-sessions"),
                    None,
                )
                .await;
                admin(
                    Method::POST,
                    format!("/v1/admin/users/{uid}/ban"),
                    Some(serde_json::json!({"reason": "testing"})),
                )
                .await;
                admin(Method::DELETE, format!("/v1/admin/users/{uid}/ban"), None).await;
            }
            for s in [&first, &second] {
                assert_eq!(srv.me(&s.access).await.code(), Some("token_revoked"));
            }
            by.push(events_of(e).await);
        }
        assert_eq!(by[0], by[1], "CLI and admin API: the same events");
        let kinds: Vec<&str> = by[0]
            .iter()
            .map(|ev| ev["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                "sessions_revoked_by_admin",
                "account_banned",
                "account_unbanned"
            ],
            "{by:?}"
        );
        assert_eq!(by[0][1]["details"]["reason"], "testing");

        // One session and one access token, ended by the operator through the CLI: the
        // session step a user's own `DELETE /v1/sessions/{id}` and `/v1/tokens/{jti}` take,
        // recorded as the operator's.
        let e = email("ops-cli-session");
        let r = srv.register(&e, PW).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let session = Session::from(&srv.login(&e, PW).await);
        let token = Session::from(&srv.login(&e, PW).await);
        let jti = decode(&token.access).1["jti"].as_str().unwrap().to_owned();
        cli(&["revoke", "session", &session.id]);
        cli(&["revoke", "token", &token.access]);
        assert_eq!(srv.me(&session.access).await.code(), Some("token_revoked"));
        assert_eq!(srv.me(&token.access).await.code(), Some("token_revoked"));
        assert_eq!(
            events_of(e).await,
            [
                serde_json::json!({
                    "type": "session_revoked",
                    "ip": null,
                    "session_id": session.id,
                    "device": null,
                    "details": {"via": "admin"},
                }),
                serde_json::json!({
                    "type": "token_revoked",
                    "ip": null,
                    "session_id": token.id,
                    "device": null,
                    "details": {"jti": jti, "via": "admin"},
                }),
            ]
        );
    }
}

/// A client that trickles its request headers (slowloris) is disconnected after the header
/// timeout (`TESSERA_HEADER_READ_TIMEOUT`, 4 s here), and so is an idle keep-alive
/// connection; one that stalls its body is answered 400 after the body timeout (10 s),
/// instead of each holding a connection for as long as it likes; the server keeps answering
/// others meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_trickle_headers_or_stall_bodies_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let srv = Binary::serve(dir.path(), &[("TESSERA_HEADER_READ_TIMEOUT", "4s")]).await;
    let addr = format!("127.0.0.1:{}", srv.port);
    let read_all = |mut conn: tokio::net::TcpStream| async move {
        let mut got = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(20), conn.read_to_end(&mut got)).await;
        (read, String::from_utf8_lossy(&got).into_owned())
    };
    let trickle = async {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let started = Instant::now();
        conn.write_all(b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        // One more header line every second: never finished. The server hangs up on its own.
        let mut more = conn;
        for i in 0..20 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if more
                .write_all(format!("X-Slow-{i}: 1\r\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
        let (read, text) = read_all(more).await;
        assert!(read.is_ok(), "the connection was still open after 30 s");
        (started.elapsed(), text)
    };
    let stall = async {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let started = Instant::now();
        conn.write_all(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":",
        )
        .await
        .unwrap();
        let (read, text) = read_all(conn).await;
        assert!(read.is_ok(), "the connection was still open after 20 s");
        (started.elapsed(), text)
    };
    let idle = async {
        let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let started = Instant::now();
        let (read, text) = read_all(conn).await;
        assert!(
            read.is_ok(),
            "the idle connection was still open after 20 s"
        );
        (started.elapsed(), text)
    };
    let meanwhile = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        srv.call(Method::GET, "/healthz", None, None).await.status
    };
    let ((trickled, _), (stalled, answer), (idled, served), healthy) =
        tokio::join!(trickle, stall, idle, meanwhile);
    assert_eq!(healthy, StatusCode::OK);
    assert!(
        trickled >= Duration::from_secs(3) && trickled < Duration::from_secs(9),
        "headers trickled for {trickled:?}"
    );
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    assert!(
        idled >= Duration::from_secs(3) && idled < Duration::from_secs(9),
        "an idle keep-alive connection lived {idled:?}"
    );
    assert!(
        stalled >= Duration::from_secs(9) && stalled < Duration::from_secs(16),
        "body stalled for {stalled:?}"
    );
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
}
