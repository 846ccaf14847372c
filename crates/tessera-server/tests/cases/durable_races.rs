//! The durable copy against an attacker who times requests: a revocation that the store
//! decides first (theft, RFC 7009 by refresh token, eviction by `max_sessions_per_user`)
//! deletes the session's row only afterwards, and a refresh inside that window finds the
//! session missing and would restore it from the row. Each case holds the revoking call
//! right after the store's decision ([`Faults::pause_after`]), runs the racing refresh, lets
//! the revocation finish, and checks that nothing it revoked lives on — with the store
//! healthy, no loss at all. (Three defences stand there: the store's tombstone refuses the
//! restore; the session is revoked in the store again once its row is gone; a restore
//! re-reads the row after writing.) Plus the revocation of a session the store lost inside the lag, and a
//! copy left behind while the mirror was off.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use tessera_core::ids::{SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_store::StateStore;
use tessera_testkit::{RedisServer, TempDir, free_port, redis_available};

use crate::common::binary::Binary;
use crate::common::faulty::{Faults, FaultyStore, Moment};
use crate::common::http::Reply;
use crate::common::{Backend, PW, Session, TestServer, email};

const CLIENT: (&str, &str) = ("rs1", "secret-0123456789-abcdefghijklmnopq");

/// A server with the mirror on, its store behind a [`FaultyStore`], and the real store (to
/// take sessions out of it behind the mirror's back, as a loss would).
struct Racing {
    s: TestServer,
    faults: Arc<Faults>,
    inner: Arc<dyn StateStore>,
}

async fn start(
    b: Backend,
    configure: impl FnOnce(&mut tessera_server::config::RawConfig),
) -> Option<Racing> {
    let faults = Faults::new();
    let slot: Arc<Mutex<Option<Arc<dyn StateStore>>>> = Arc::default();
    let (f, keep) = (Arc::clone(&faults), Arc::clone(&slot));
    let s = TestServer::start_wrapped(
        b,
        |c| {
            c.durable_sessions = Some("on".into());
            c.introspection_clients = Some(format!("{}:{}", CLIENT.0, CLIENT.1));
            configure(c);
        },
        move |store| {
            *keep.lock().unwrap() = Some(Arc::clone(&store));
            FaultyStore::wrap(store, f)
        },
    )
    .await?;
    let inner = slot.lock().unwrap().clone().unwrap();
    Some(Racing { s, faults, inner })
}

/// The session `refresh` belongs to is dead: the token and its access token refused.
async fn dead(s: &TestServer, what: &str, session: &Session) {
    let r = s.refresh(&session.refresh).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: refresh: {r:?}");
    let r = s.me(&session.access).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: access: {r:?}");
}

/// A refresh racing inside the window (the store has revoked the session, its row is still
/// there) must not restore it: the store's tombstone refuses the restore. Were it restored,
/// the revocation would still kill it afterwards (revoked again once the row is gone) —
/// either way, nothing it returns may live on.
async fn refused_in_the_window(s: &TestServer, r: &Reply) {
    if r.status == StatusCode::OK {
        dead(s, "restored inside the window", &Session::from(r)).await;
    }
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "restored inside the window: {r:?}"
    );
}

/// Theft detection cannot be escaped by refreshing while the stolen family's row is being
/// deleted: the session the racing refresh restored is revoked once the row is gone.
pub async fn a_refresh_racing_theft_detection_does_not_keep_the_family_alive(b: Backend) {
    let Some(Racing { s, faults, .. }) = start(b, |_| {}).await else {
        return;
    };
    let s0 = s.signed_up(&email("race-theft")).await;
    let s1 = Session::from(&s.refresh(&s0.refresh).await);
    let s2 = Session::from(&s.refresh(&s1.refresh).await);

    let paused = faults.pause_after(Moment::Reused);
    let (theft, racing) = tokio::join!(s.refresh(&s0.refresh), async {
        paused.reached().await;
        let r = s.refresh(&s2.refresh).await;
        paused.release();
        r
    });
    assert_eq!(theft.code(), Some("refresh_token_reused"), "{theft:?}");
    refused_in_the_window(&s, &racing).await;
    dead(&s, "the family's newest token after theft", &s2).await;
}

/// RFC 7009: a refresh racing the revocation by refresh token does not outlive it.
pub async fn a_refresh_racing_a_revocation_by_refresh_token_does_not_outlive_it(b: Backend) {
    let Some(Racing { s, faults, .. }) = start(b, |_| {}).await else {
        return;
    };
    let s0 = s.signed_up(&email("race-7009")).await;
    let s1 = Session::from(&s.refresh(&s0.refresh).await);

    let paused = faults.pause_after(Moment::RevokedByRefresh);
    let fields = [("token", s1.refresh.as_str())];
    let (revoked, racing) = tokio::join!(s.form("/oauth2/revoke", &fields, Some(CLIENT)), async {
        paused.reached().await;
        let r = s.refresh(&s1.refresh).await;
        paused.release();
        r
    });
    assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");
    refused_in_the_window(&s, &racing).await;
    dead(&s, "the session revoked by its refresh token", &s1).await;
}

/// A session evicted by a newer sign-in (`max_sessions_per_user`) stays evicted even when
/// it is refreshed while the sign-in deletes its row.
pub async fn a_refresh_racing_an_eviction_does_not_bring_the_evicted_session_back(b: Backend) {
    let Some(Racing { s, faults, .. }) = start(b, |c| c.max_sessions_per_user = Some(1)).await
    else {
        return;
    };
    let e = email("race-evict");
    let old = s.signed_up(&e).await;

    let paused = faults.pause_after(Moment::Evicted);
    let (newer, racing) = tokio::join!(s.login(&e, PW), async {
        paused.reached().await;
        let r = s.refresh(&old.refresh).await;
        paused.release();
        r
    });
    assert_eq!(newer.status, StatusCode::OK, "{newer:?}");
    refused_in_the_window(&s, &racing).await;
    dead(&s, "the evicted session", &old).await;
    let newer = Session::from(&newer);
    assert_eq!(s.me(&newer.access).await.status, StatusCode::OK);
}

/// A session the store lost while its newest rotation was still queued (inside the lag)
/// is revoked by its newest refresh token, which the row does not know yet: the revocation
/// is judged against the same state a refresh would restore, so the token cannot come back
/// by the next refresh.
pub async fn revoking_by_the_newest_refresh_token_of_a_lost_session_holds(b: Backend) {
    let Some(Racing { s, inner, .. }) = start(b, |c| c.durable_lag = Some("1m".into())).await
    else {
        return;
    };
    let s0 = s.signed_up(&email("lost-7009")).await;
    let s1 = Session::from(&s.refresh(&s0.refresh).await);
    let user: UserId = s.me(&s1.access).await.str("id").parse().unwrap();
    let session: SessionId = s1.id.parse().unwrap();
    #[allow(clippy::disallowed_methods)] // a test: an edge
    let now = Timestamp::now();
    assert!(inner.revoke_session(user, session, now).await.unwrap());

    let r = s
        .form("/oauth2/revoke", &[("token", &s1.refresh)], Some(CLIENT))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = s.refresh(&s1.refresh).await;
    assert_eq!(r.code(), Some("invalid_refresh_token"), "revived: {r:?}");
}

/// A session logged out while the mirror was off does not come back when it is on again
/// and the state store is then lost: a server started with the mirror off empties the copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_while_the_mirror_was_off_stays_a_logout_once_it_is_on_again() {
    if !redis_available() {
        return;
    }
    let dir = TempDir::new("durable-off-on");
    let redis = RedisServer::start(free_port(), dir.path(), &[]);
    let url = redis.url();
    let data = tempfile::tempdir().unwrap();
    let env = |switch: &'static str| {
        vec![
            ("REDIS_URL", url.clone()),
            ("TESSERA_DURABLE_SESSIONS", switch.to_owned()),
            ("TESSERA_DURABLE_LAG", "100ms".to_owned()),
            // The default issuer names the listening port, new at each start.
            ("TESSERA_ISSUER", "http://tessera.test".to_owned()),
        ]
    };
    let serve = |switch: &'static str| {
        let env = env(switch);
        let data = data.path().to_path_buf();
        async move {
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            Binary::serve(&data, &env).await
        }
    };

    let mut on = serve("on").await;
    let a = on.signed_up(&email("off-on")).await;
    on.stop();

    let mut off = serve("off").await;
    assert_eq!(off.logout(&a.access).await.status, StatusCode::NO_CONTENT);
    off.stop();

    let on = serve("on").await;
    redis.cli(&["FLUSHALL"]);
    let r = on.refresh(&a.refresh).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "revived: {r:?}");
    // A session opened now has its copy again: it survives the next loss.
    let b = on.signed_up(&email("off-on-after")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.cli(&["FLUSHALL"]);
    assert_eq!(on.refresh(&b.refresh).await.status, StatusCode::OK);
}

/// "Sign out everywhere" raises the store's version first and SQL's after. A sign-in
/// whose session opened in between (it read the old version from SQL, and the store
/// opened its session under the new one) must not survive: it is refused and its session
/// revoked, and the version is written to SQL, so the next sign-in works. Staged here by
/// the store's step alone (as when the SQL step is still to come, or failed).
pub async fn a_sign_in_opened_under_a_newer_store_version_than_it_read_is_refused(b: Backend) {
    let Some(Racing { s, inner, .. }) = start(b, |_| {}).await else {
        return;
    };
    let e = email("version-ahead");
    let before = s.signed_up(&e).await;
    let user: UserId = s.me(&before.access).await.str("id").parse().unwrap();
    #[allow(clippy::disallowed_methods)] // a test: an edge
    let now = Timestamp::now();
    inner.revoke_user(user, now).await.unwrap();
    let r = s.login(&e, PW).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials")),
        "a sign-in that raced the revocation kept its session: {r:?}"
    );
    // Nothing of it is alive in the store (its only record would be its session).
    let list = inner.list_sessions(user, now).await.unwrap();
    assert!(list.is_empty(), "{list:?}");
    // Healed: SQL holds the store's version now.
    let after = Session::from(&s.login(&e, PW).await);
    assert_eq!(s.me(&after.access).await.status, StatusCode::OK);
    dead(&s, "the session from before", &before).await;
}

/// Two refreshes of one session the store lost, at once (a client retrying, or two tabs):
/// both are answered, with the same successor. The one that finds the session already put
/// back by the other asks the store again rather than answering 401.
pub async fn concurrent_refreshes_of_a_lost_session_are_both_answered(b: Backend) {
    let Some(Racing { s, inner, .. }) = start(b, |_| {}).await else {
        return;
    };
    for round in 0..5 {
        let s0 = s.signed_up(&email("lost-concurrent")).await;
        let user: UserId = s.me(&s0.access).await.str("id").parse().unwrap();
        let session: SessionId = s0.id.parse().unwrap();
        #[allow(clippy::disallowed_methods)] // a test: an edge
        let now = Timestamp::now();
        assert!(inner.revoke_session(user, session, now).await.unwrap());
        let (a, b) = tokio::join!(s.refresh(&s0.refresh), s.refresh(&s0.refresh));
        assert_eq!(a.status, StatusCode::OK, "round {round}: {a:?}");
        assert_eq!(b.status, StatusCode::OK, "round {round}: {b:?}");
        assert_eq!(
            a.str("refresh_token"),
            b.str("refresh_token"),
            "round {round}: the family forked"
        );
    }
}
