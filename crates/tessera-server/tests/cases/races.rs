//! Revocations racing sign-ins: a ban, a password change or a password reset that runs
//! while someone keeps signing in with the (old) password must leave no session of those
//! sign-ins alive, whatever the interleaving (`auth::sign_in::standing` explains the ordering).
//!
//! Each case keeps several clients signing in in a loop while the revocation runs, so some
//! sign-ins read the account before the revocation and open their session after it: the
//! interleaving that used to leave a live session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::mfa::{challenge, enrolled};
use super::password::{NEW_PW, change, mailed_token, reset};
use crate::common::http::Http;
use crate::common::{Backend, PW, Session, TestServer, email};

const ADMIN: &str = "admin-secret-for-tests-0123456789";
/// Clients signing in at once.
const CLIENTS: usize = 4;
/// Rounds per case (a fresh account each).
const ROUNDS: usize = 3;

/// `CLIENTS` loops signing in, until `stop`; `attempts` counts their answered sign-ins.
struct Loops {
    stop: Arc<AtomicBool>,
    attempts: Arc<AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Session>>>,
}

/// Starts `CLIENTS` loops signing in as `email` with `password`; each returns the sessions
/// it got.
fn hammer(h: &Http, email: &str, password: &str) -> Loops {
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicUsize::new(0));
    let tasks = (0..CLIENTS)
        .map(|_| {
            let (h, e, p) = (h.clone(), email.to_owned(), password.to_owned());
            let (stop, attempts) = (stop.clone(), attempts.clone());
            tokio::spawn(async move {
                let mut got = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let r = h.login(&e, &p).await;
                    attempts.fetch_add(1, Ordering::Relaxed);
                    if r.status == StatusCode::OK {
                        got.push(Session::from(&r));
                    }
                }
                got
            })
        })
        .collect();
    Loops {
        stop,
        attempts,
        tasks,
    }
}

/// Waits until the loops answered `n` more sign-ins (at most 10 s).
async fn settle(loops: &Loops, n: usize) {
    let start = loops.attempts.load(Ordering::Relaxed);
    for _ in 0..1000 {
        if loops.attempts.load(Ordering::Relaxed) >= start + n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Lets the loops sign in, runs `revocation` while they go on, stops them once they had time
/// for a few more; the sessions they got.
async fn during(loops: Loops, revocation: impl std::future::Future<Output = ()>) -> Vec<Session> {
    settle(&loops, 2 * CLIENTS).await;
    revocation.await;
    settle(&loops, 2 * CLIENTS).await;
    loops.stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in loops.tasks {
        all.extend(t.await.unwrap());
    }
    all
}

pub async fn a_ban_racing_sign_ins_leaves_no_live_session(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.admin_token = Some(ADMIN.into())).await else {
        return;
    };
    let mut signed_in = 0;
    for _ in 0..ROUNDS {
        let e = email("ban-race");
        let reg = s.register(&e, PW).await;
        let uid = reg.body["user"]["id"].as_str().unwrap().to_owned();
        let loops = hammer(&s.http, &e, PW);
        let sessions = during(loops, async {
            let r = s
                .call(
                    Method::POST,
                    &format!("/v1/admin/users/{uid}/ban"),
                    Some(json!({"reason": "race"})),
                    Some(ADMIN),
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        })
        .await;
        signed_in += sessions.len();
        let listed = s
            .call(
                Method::GET,
                &format!("/v1/admin/users/{uid}/sessions"),
                None,
                Some(ADMIN),
            )
            .await;
        assert_eq!(
            listed.body["sessions"].as_array().map(Vec::len),
            Some(0),
            "a banned user keeps live sessions: {}",
            listed.body
        );
        for x in &sessions {
            assert_eq!(s.me(&x.access).await.status, StatusCode::UNAUTHORIZED);
            let r = s.refresh(&x.refresh).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::FORBIDDEN, Some("account_disabled")),
                "{r:?}"
            );
        }
    }
    assert!(signed_in > 0, "the loops never signed in before the ban");
}

pub async fn a_password_change_racing_sign_ins_with_the_old_password_keeps_only_the_caller(
    b: Backend,
) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    for _ in 0..ROUNDS {
        let e = email("change-race");
        let caller = s.signed_up(&e).await;
        let loops = hammer(&s.http, &e, PW);
        let sessions = during(loops, async {
            let r = change(&s, &caller.access, PW, NEW_PW).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        })
        .await;
        let listed = s
            .call(Method::GET, "/v1/sessions", None, Some(&caller.access))
            .await;
        let ids: Vec<&str> = listed.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|x| x["id"].as_str())
            .collect();
        assert_eq!(ids, vec![caller.id.as_str()], "{}", listed.body);
        for x in &sessions {
            assert_eq!(s.me(&x.access).await.status, StatusCode::UNAUTHORIZED);
            assert_eq!(s.refresh(&x.refresh).await.status, StatusCode::UNAUTHORIZED);
        }
    }
}

pub async fn a_password_reset_racing_sign_ins_with_the_old_password_leaves_none(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    for _ in 0..ROUNDS {
        let e = email("reset-race");
        s.signed_up(&e).await;
        let token = mailed_token(&s, &e).await;
        let loops = hammer(&s.http, &e, PW);
        let sessions = during(loops, async {
            let r = reset(&s, &token, NEW_PW).await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        })
        .await;
        for x in &sessions {
            assert_eq!(s.me(&x.access).await.status, StatusCode::UNAUTHORIZED);
            assert_eq!(s.refresh(&x.refresh).await.status, StatusCode::UNAUTHORIZED);
        }
        let fresh = Session::from(&s.login(&e, NEW_PW).await);
        let listed = s
            .call(Method::GET, "/v1/sessions", None, Some(&fresh.access))
            .await;
        assert_eq!(
            listed.body["sessions"].as_array().map(Vec::len),
            Some(1),
            "{}",
            listed.body
        );
    }
}

/// Second-factor completions racing a ban: every completion that got tokens must find its
/// session ended (the completion opens its session through the same re-checked path).
pub async fn a_ban_racing_second_factor_completions_leaves_no_live_session(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.admin_token = Some(ADMIN.into())).await else {
        return;
    };
    for _ in 0..ROUNDS {
        let (e, first, _, codes) = enrolled(&s, "mfa-ban-race").await;
        let me = s.me(&first.access).await;
        let uid = me.body["id"].as_str().unwrap().to_owned();
        let mut ids = Vec::new();
        for _ in &codes {
            let ch = challenge(&s, &e, json!({}), None).await;
            ids.push(ch.str("challenge_id"));
        }
        let completions = ids
            .iter()
            .zip(&codes)
            .map(|(id, code)| {
                let h = s.http.clone();
                let (id, code) = (id.clone(), code.clone());
                tokio::spawn(async move {
                    h.call(
                        Method::POST,
                        "/v1/auth/mfa",
                        Some(json!({"challenge_id": id, "code": code})),
                        None,
                    )
                    .await
                })
            })
            .collect::<Vec<_>>();
        tokio::time::sleep(Duration::from_millis(2)).await;
        let r = s
            .call(
                Method::POST,
                &format!("/v1/admin/users/{uid}/ban"),
                Some(json!({"reason": "race"})),
                Some(ADMIN),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
        let mut got = Vec::new();
        for c in completions {
            let r = c.await.unwrap();
            if r.status == StatusCode::OK {
                got.push(Session::from(&r));
            }
        }
        let listed = s
            .call(
                Method::GET,
                &format!("/v1/admin/users/{uid}/sessions"),
                None,
                Some(ADMIN),
            )
            .await;
        assert_eq!(
            listed.body["sessions"].as_array().map(Vec::len),
            Some(0),
            "a banned user keeps live sessions: {}",
            listed.body
        );
        for x in &got {
            assert_eq!(s.me(&x.access).await.status, StatusCode::UNAUTHORIZED);
        }
    }
}
