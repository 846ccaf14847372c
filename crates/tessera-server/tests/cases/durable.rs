//! The durable copy of the session state, through the real binary: after the state store
//! loses everything (`FLUSHALL` of a private Redis — with SQLite or PostgreSQL —, `FLUSHALL`
//! on every master of a private Redis Cluster, or a restart of the process holding the memory
//! store), a live session's current refresh token still works, and nothing revoked comes
//! back — in allowlist and denylist mode.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use tessera_core::ids::{SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_store::StateStore;
use tessera_testkit::postgres::TempDatabase;
use tessera_testkit::{RedisCluster, RedisServer, TempDir, free_port, redis_available};

use super::signin::decode;
use crate::common::binary::Binary;
use crate::common::{Backend, PW, Session, TestServer, email};

const ADMIN: &str = "admin-secret-for-tests-0123456789";
const LAG: &str = "200ms";
/// Long enough for every write behind of [`LAG`] to have reached SQL.
const PAST_THE_LAG: Duration = Duration::from_millis(600);
const MODES: [&str; 2] = ["allowlist", "denylist"];

/// The sessions prepared before the loss.
struct Prepared {
    /// Rotated twice: `live.refresh` is the current token (generation 2).
    live: Session,
    /// The sign-in token of `live`'s family (generation 0): rotated away.
    rotated_away: String,
    /// Logged out.
    ended: Session,
    /// A live session whose access token was revoked.
    token_revoked: Session,
    /// A session of a banned user.
    banned: Session,
    /// Two sessions of a user who signed out everywhere.
    everywhere: [Session; 2],
}

async fn prepare(srv: &Binary) -> Prepared {
    let s0 = srv.signed_up(&email("durable-live")).await;
    let s1 = Session::from(&srv.refresh(&s0.refresh).await);
    let live = Session::from(&srv.refresh(&s1.refresh).await);

    let ended = srv.signed_up(&email("durable-ended")).await;
    assert_eq!(
        srv.logout(&ended.access).await.status,
        StatusCode::NO_CONTENT
    );

    let token_revoked = srv.signed_up(&email("durable-token")).await;
    let jti = decode(&token_revoked.access).1["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = srv
        .call(
            Method::DELETE,
            &format!("/v1/tokens/{jti}"),
            None,
            Some(&token_revoked.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");

    let be = email("durable-banned");
    let banned = srv.signed_up(&be).await;
    let uid = srv.me(&banned.access).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = srv
        .call(
            Method::POST,
            &format!("/v1/admin/users/{uid}/ban"),
            Some(serde_json::json!({"reason": "x"})),
            Some(ADMIN),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");

    let ee = email("durable-everywhere");
    let a = srv.signed_up(&ee).await;
    let b = Session::from(&srv.login(&ee, PW).await);
    assert_eq!(
        srv.logout_all(&a.access).await.status,
        StatusCode::NO_CONTENT
    );
    Prepared {
        live,
        rotated_away: s0.refresh,
        ended,
        token_revoked,
        banned,
        everywhere: [a, b],
    }
}

async fn refused(srv: &Binary, what: &str, refresh: &str) {
    let r = srv.refresh(refresh).await;
    assert!(
        r.status == StatusCode::UNAUTHORIZED || r.status == StatusCode::FORBIDDEN,
        "{what}: {r:?}"
    );
}

async fn denied(srv: &Binary, what: &str, access: &str) {
    let r = srv.me(access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {r:?}");
}

/// After the loss: the live session goes on, every revoked thing stays revoked.
async fn check(srv: &Binary, p: &Prepared, mode: &str) {
    let next = srv.refresh(&p.live.refresh).await;
    assert_eq!(
        next.status,
        StatusCode::OK,
        "{mode}: live session: {next:?}"
    );
    let next = Session::from(&next);
    assert_eq!(srv.me(&next.access).await.status, StatusCode::OK);

    refused(srv, "logged-out session", &p.ended.refresh).await;
    denied(srv, "logged-out session", &p.ended.access).await;

    // The session with a revoked access token lives on; the token stays dead, also once the
    // session is back in the store (denylist mode checks only the denylist and the session).
    denied(srv, "revoked access token", &p.token_revoked.access).await;
    let again = srv.refresh(&p.token_revoked.refresh).await;
    assert_eq!(again.status, StatusCode::OK, "{mode}: {again:?}");
    denied(
        srv,
        "revoked access token after restore",
        &p.token_revoked.access,
    )
    .await;
    assert_eq!(
        srv.me(&Session::from(&again).access).await.status,
        StatusCode::OK
    );

    refused(srv, "banned user", &p.banned.refresh).await;
    denied(srv, "banned user", &p.banned.access).await;
    for s in &p.everywhere {
        refused(srv, "signed out everywhere", &s.refresh).await;
        denied(srv, "signed out everywhere", &s.access).await;
    }
    // A rotated-away token is theft, as before the loss: refused, and the family ends.
    let r = srv.refresh(&p.rotated_away).await;
    assert_eq!(r.code(), Some("refresh_token_reused"), "{mode}: {r:?}");
    refused(srv, "the family after theft", &next.refresh).await;

    let metrics = srv.call(Method::GET, "/metrics", None, None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(
        text.contains("tessera_durable_restores_total 2"),
        "{mode}: {text}"
    );
}

fn env<'a>(mode: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![
        ("TESSERA_ADMIN_TOKEN", ADMIN),
        ("TESSERA_REVOCATION_MODE", mode),
        ("TESSERA_DURABLE_SESSIONS", "on"),
        ("TESSERA_DURABLE_LAG", LAG),
        ("TESSERA_ISSUER", "http://tessera.test"),
    ];
    v.extend_from_slice(extra);
    v
}

/// One run in `mode`: `tessera serve` in `cwd` with `env`, [`prepare`], the lag waited, the
/// Redis state lost by `flush`, then [`check`].
async fn survives_a_flush(
    cwd: &std::path::Path,
    env: &[(&str, &str)],
    mode: &str,
    flush: impl Fn(),
) {
    let srv = Binary::serve(cwd, env).await;
    let p = prepare(&srv).await;
    tokio::time::sleep(PAST_THE_LAG).await;
    flush();
    check(&srv, &p, mode).await;
}

/// `FLUSHALL` on one node, which must accept it.
fn flushall(node: &RedisServer) {
    assert_eq!(
        node.cli(&["FLUSHALL"]).trim(),
        "OK",
        "FLUSHALL on {}",
        node.url()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_flushall_live_sessions_go_on_and_nothing_revoked_comes_back() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("durable-flush");
    // A private Redis: never the shared one.
    let redis = RedisServer::start(free_port(), dir.path(), &[]);
    let url = redis.url();
    for mode in MODES {
        let data = tempfile::tempdir().unwrap();
        let env = env(mode, &[("REDIS_URL", &url)]);
        survives_a_flush(data.path(), &env, mode, || flushall(&redis)).await;
    }
}

/// As above with the durable copy in PostgreSQL (a fresh database per mode: the key ring a
/// first server writes there would need the master key of its data directory).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_flushall_with_postgresql_live_sessions_go_on_and_nothing_revoked_comes_back() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("durable-flush-pg");
    let redis = RedisServer::start(free_port(), dir.path(), &[]);
    let url = redis.url();
    for mode in MODES {
        let Some(pg) = TempDatabase::create().await else {
            return;
        };
        let data = tempfile::tempdir().unwrap();
        let env = env(mode, &[("REDIS_URL", &url), ("DATABASE_URL", pg.url())]);
        survives_a_flush(data.path(), &env, mode, || flushall(&redis)).await;
    }
}

/// On a private 3-master Redis Cluster, every master flushed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_flushall_of_every_cluster_master_live_sessions_go_on_and_nothing_revoked_comes_back()
 {
    if !redis_available() {
        return;
    }
    let cluster = tokio::task::spawn_blocking(RedisCluster::start)
        .await
        .unwrap();
    let seeds = cluster.urls().join(",");
    let flush = || {
        for node in &cluster.nodes {
            assert!(
                node.cli(&["ROLE"]).starts_with("master"),
                "{} is a master",
                node.url()
            );
            flushall(node);
        }
    };
    for mode in MODES {
        let data = tempfile::tempdir().unwrap();
        let env = env(
            mode,
            &[("REDIS_URL", &seeds), ("TESSERA_REDIS_CLUSTER", "true")],
        );
        survives_a_flush(data.path(), &env, mode, flush).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_of_the_embedded_default_live_sessions_go_on_and_nothing_revoked_comes_back()
 {
    for mode in MODES {
        let data = tempfile::tempdir().unwrap();
        let mut srv = Binary::serve(data.path(), &env(mode, &[])).await;
        let p = prepare(&srv).await;
        tokio::time::sleep(PAST_THE_LAG).await;
        srv.stop();
        let srv = Binary::serve(data.path(), &env(mode, &[])).await;
        check(&srv, &p, mode).await;
    }
}

/// The embedded default fills its in-process store from the copy at start, before any
/// refresh: the live session is listed at once, its access token works again in denylist
/// mode (allowlist mode restores no grant: refused until the client refreshes), and
/// nothing revoked is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_default_restores_its_sessions_at_start() {
    for mode in MODES {
        let data = tempfile::tempdir().unwrap();
        let mut srv = Binary::serve(data.path(), &env(mode, &[])).await;
        let p = prepare(&srv).await;
        tokio::time::sleep(PAST_THE_LAG).await;
        srv.stop();
        let srv = Binary::serve(data.path(), &env(mode, &[])).await;
        assert!(
            srv.logs()
                .contains("in-process state store restored from the durable copy"),
            "{mode}: {}",
            srv.logs()
        );
        let me = srv.me(&p.live.access).await;
        match mode {
            "denylist" => assert_eq!(me.status, StatusCode::OK, "{mode}: {me:?}"),
            _ => assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{mode}: {me:?}"),
        }
        // Listed without a refresh (the list needs a live access token: refresh in
        // allowlist mode, which finds the session already there).
        let access = if mode == "denylist" {
            p.live.access.clone()
        } else {
            Session::from(&srv.refresh(&p.live.refresh).await).access
        };
        let listed = srv
            .call(Method::GET, "/v1/sessions", None, Some(&access))
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{mode}: {listed:?}");
        let ids: Vec<&str> = listed.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["id"].as_str())
            .collect();
        assert_eq!(ids, vec![p.live.id.as_str()], "{mode}");
        denied(&srv, "logged-out session", &p.ended.access).await;
        denied(&srv, "revoked access token", &p.token_revoked.access).await;
        denied(&srv, "banned user", &p.banned.access).await;
        for s in &p.everywhere {
            denied(&srv, "signed out everywhere", &s.access).await;
        }
        // Restored at start, not by the refresh: 2 sessions (the live one and the one with
        // a revoked access token).
        let metrics = srv.call(Method::GET, "/metrics", None, None).await;
        let text = metrics.body.as_str().unwrap_or_default().to_owned();
        assert!(
            text.contains("tessera_durable_restores_total 2"),
            "{mode}: {text}"
        );
    }
}

/// The server killed (SIGKILL) with a rotation not yet written, and the memory store with
/// it: the newest token is refused (the user signs in again), the copy is one rotation old.
/// The known limit (docs/ARCHITECTURE.md, "Durable state"): the token that rotation replaced
/// is the copy's current one and works once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_inside_the_lag_loses_at_most_the_rotations_of_the_lag() {
    let data = tempfile::tempdir().unwrap();
    let slow = env("allowlist", &[("TESSERA_DURABLE_LAG", "1m")]);
    let mut srv = Binary::serve(data.path(), &slow).await;
    let s0 = srv.signed_up(&email("durable-kill")).await;
    let s1 = Session::from(&srv.refresh(&s0.refresh).await);
    srv.kill();
    let srv = Binary::serve(data.path(), &slow).await;
    refused(&srv, "the rotation lost with the process", &s1.refresh).await;
    // The ended-or-revoked never revives: a logout before the kill was durable at once.
    let e = srv.signed_up(&email("durable-kill-ended")).await;
    assert_eq!(srv.logout(&e.access).await.status, StatusCode::NO_CONTENT);
    let mut srv = srv;
    srv.kill();
    let srv = Binary::serve(data.path(), &slow).await;
    refused(&srv, "logged out before the kill", &e.refresh).await;
}

/// In process, on every backend: sessions taken out of the state store behind the mirror's
/// back (as a loss would) come back on their next refresh, and nothing revoked does — the
/// restore path with its race check, in both modes.
pub async fn a_session_the_store_lost_is_restored_and_nothing_revoked_comes_back(b: Backend) {
    for mode in MODES {
        let slot: Arc<Mutex<Option<Arc<dyn StateStore>>>> = Arc::default();
        let keep = Arc::clone(&slot);
        let Some(s) = TestServer::start_wrapped(
            b,
            |c| {
                c.revocation_mode = Some(mode.into());
                c.durable_sessions = Some("on".into());
            },
            move |store| {
                *keep.lock().unwrap() = Some(Arc::clone(&store));
                store
            },
        )
        .await
        else {
            return;
        };
        let inner = slot.lock().unwrap().clone().unwrap();
        let lose = |user: &str, session: &str| {
            let inner = Arc::clone(&inner);
            let user: UserId = user.parse().unwrap();
            let session: SessionId = session.parse().unwrap();
            async move {
                #[allow(clippy::disallowed_methods)] // a test: an edge
                let now = Timestamp::now();
                assert!(inner.revoke_session(user, session, now).await.unwrap());
            }
        };
        let e = email("lost");
        let s0 = s.signed_up(&e).await;
        let uid = s.me(&s0.access).await.str("id");
        let live = Session::from(&s.refresh(&s0.refresh).await);
        let jti = decode(&live.access).1["jti"].as_str().unwrap().to_owned();
        let r = s
            .call(
                Method::DELETE,
                &format!("/v1/tokens/{jti}"),
                None,
                Some(&live.access),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{mode}: {r:?}");
        let ended = Session::from(&s.login(&e, PW).await);
        assert_eq!(s.logout(&ended.access).await.status, StatusCode::NO_CONTENT);

        lose(&uid, &live.id).await;
        denied_in(&s, mode, &live.access).await;
        let next = s.refresh(&live.refresh).await;
        assert_eq!(next.status, StatusCode::OK, "{mode}: {next:?}");
        let next = Session::from(&next);
        assert_eq!(next.id, live.id);
        assert_eq!(s.me(&next.access).await.status, StatusCode::OK);
        // The revoked access token stays dead in the restored session (denylist: its entry
        // came back with it; allowlist: no grant came back).
        denied_in(&s, mode, &live.access).await;
        assert_eq!(
            s.refresh(&ended.refresh).await.code(),
            Some("invalid_refresh_token"),
            "{mode}"
        );
        // Restored once: lost again, it comes back again, from the newest rotation.
        lose(&uid, &live.id).await;
        assert_eq!(
            s.refresh(&next.refresh).await.status,
            StatusCode::OK,
            "{mode}"
        );
        // The sign-in token of the family is theft, as before any loss.
        assert_eq!(
            s.refresh(&s0.refresh).await.code(),
            Some("refresh_token_reused"),
            "{mode}"
        );
    }
}

async fn denied_in(s: &TestServer, mode: &str, access: &str) {
    let r = s.me(access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{mode}: {r:?}");
}

/// A Redis that comes back with **older** data (an RDB snapshot taken before a logout and
/// two rotations, reloaded after a crash) still holds the logged-out session and a family
/// whose current token was rotated away since. The copy judges the refresh before Redis is
/// asked: the logged-out session's refresh token is refused and its session ended again,
/// the rotated-away token is theft (the session is revoked), and a session nothing
/// happened to refreshes as before — in allowlist and denylist mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_reloads_an_older_snapshot_revives_nothing() {
    if !redis_available() {
        tessera_testkit::services::missing("redis-server");
        return;
    }
    for mode in MODES {
        let dir = TempDir::new("durable-stale");
        let port = free_port();
        let args = ["--dbfilename", "stale.rdb"];
        let mut redis = RedisServer::start(port, dir.path(), &args);
        let url = redis.url();
        let env = env(mode, &[("REDIS_URL", url.as_str())]);
        let srv = Binary::serve(dir.path(), &env).await;

        let ended = srv.signed_up(&email("stale-ended")).await;
        let rotated = srv.signed_up(&email("stale-rotated")).await;
        let rotated = Session::from(&srv.refresh(&rotated.refresh).await);
        let untouched = srv.signed_up(&email("stale-untouched")).await;
        // The snapshot: all three live, `rotated` at generation 1.
        assert_eq!(redis.cli(&["SAVE"]).trim(), "OK");
        assert_eq!(
            srv.logout(&ended.access).await.status,
            StatusCode::NO_CONTENT
        );
        let second = Session::from(&srv.refresh(&rotated.refresh).await);
        let third = Session::from(&srv.refresh(&second.refresh).await);
        tokio::time::sleep(PAST_THE_LAG).await;

        // A crash, and a restart that loads the snapshot.
        redis.stop();
        let redis = RedisServer::start(port, dir.path(), &args);
        assert_ne!(redis.cli(&["DBSIZE"]).trim(), "0", "the snapshot loaded");
        // Wait until the server talks to the new process (its breaker may be open).
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let r = srv.me(&untouched.access).await;
            if r.status == StatusCode::OK {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{mode}: the state store never came back: {r:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }

        let r = srv.refresh(&ended.refresh).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")),
            "{mode}: the logged-out session came back: {r:?}"
        );
        let r = srv.refresh(&rotated.refresh).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some("refresh_token_reused")),
            "{mode}: a rotated-away token rotated: {r:?}"
        );
        // Theft ends the family: its newest token too.
        let r = srv.refresh(&third.refresh).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{mode}: {r:?}");
        // Both sessions are ended in the store again: their access tokens are refused.
        denied(&srv, "logged-out session", &ended.access).await;
        denied(&srv, "stolen family", &rotated.access).await;
        // Nothing happened to this one: it goes on.
        let r = srv.refresh(&untouched.refresh).await;
        assert_eq!(r.status, StatusCode::OK, "{mode}: {r:?}");
    }
}
