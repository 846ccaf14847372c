//! Refresh rotation, grace window, theft detection, races.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::{Method, StatusCode};

use crate::common::{Backend, Session, TestServer, email};

pub async fn refresh_rotates_and_grace_replay_returns_the_same_successor(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let first = s.signed_up(&email("rot")).await;
    let r = s.refresh(&first.refresh).await;
    let second = Session::from(&r);
    assert_ne!(
        second.refresh, first.refresh,
        "new refresh token every time"
    );
    assert_ne!(second.access, first.access);
    assert_eq!(second.id, first.id, "same session");
    assert_eq!(s.me(&second.access).await.status, StatusCode::OK);
    assert_eq!(
        s.me(&first.access).await.status,
        StatusCode::OK,
        "earlier access token stays valid until exp"
    );

    let replay = Session::from(&s.refresh(&first.refresh).await);
    assert_eq!(
        replay.refresh, second.refresh,
        "grace replay gets the same successor (no fork)"
    );
    assert_ne!(replay.access, second.access, "and a fresh access token");
    assert_eq!(s.me(&replay.access).await.status, StatusCode::OK);

    let third = Session::from(&s.refresh(&second.refresh).await);
    assert_eq!(s.me(&third.access).await.status, StatusCode::OK);
}

pub async fn replay_after_grace_revokes_the_session(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.refresh_reuse_grace = Some("1s".into())).await else {
        return;
    };
    let e = email("theft");
    let first = s.signed_up(&e).await;
    let other = crate::common::Session::from(&s.login(&e, crate::common::PW).await);
    let second = Session::from(&s.refresh(&first.refresh).await);
    tokio::time::sleep(Duration::from_millis(1600)).await;

    let stolen = s.refresh(&first.refresh).await;
    assert_eq!(
        (stolen.status, stolen.code()),
        (StatusCode::UNAUTHORIZED, Some("refresh_token_reused"))
    );
    let me = s.me(&second.access).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );
    assert_eq!(s.me(&first.access).await.status, StatusCode::UNAUTHORIZED);
    let succ = s.refresh(&second.refresh).await;
    assert_eq!(
        succ.status,
        StatusCode::UNAUTHORIZED,
        "the successor dies with the family"
    );
    assert_eq!(
        s.me(&other.access).await.status,
        StatusCode::OK,
        "other sessions untouched"
    );

    // Zero grace: even an immediate replay is theft.
    let Some(s) = TestServer::start(b, |c| c.refresh_reuse_grace = Some("0s".into())).await else {
        return;
    };
    let first = s.signed_up(&email("nograce")).await;
    Session::from(&s.refresh(&first.refresh).await);
    assert_eq!(
        s.refresh(&first.refresh).await.code(),
        Some("refresh_token_reused")
    );
}

pub async fn concurrent_refreshes_yield_one_successor_and_no_theft(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let first = s.signed_up(&email("race")).await;
    let replies = futures::future::join_all((0..16).map(|_| s.refresh(&first.refresh))).await;
    let mut successors = HashSet::new();
    for r in &replies {
        assert_eq!(r.status, StatusCode::OK, "no false theft report: {r:?}");
        successors.insert(r.str("refresh_token"));
    }
    assert_eq!(successors.len(), 1, "exactly one successor");
    let successor = successors.into_iter().next().unwrap();
    for r in &replies {
        assert_eq!(s.me(&r.str("access_token")).await.status, StatusCode::OK);
    }
    let next = s.refresh(&successor).await;
    assert_eq!(
        next.status,
        StatusCode::OK,
        "the family continues from the one successor"
    );
}

pub async fn unknown_and_malformed_refresh_tokens_are_refused(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let real = s.signed_up(&email("unk")).await;
    // Right routing ids, wrong secret: invalid, and the session must survive it (no DoS by
    // anyone who knows a session id).
    let mut chars: Vec<char> = real.refresh.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let forged: String = chars.into_iter().collect();
    for bad in [
        forged.as_str(),
        "tsr_0123456789abcdef",
        "",
        "x".repeat(5000).as_str(),
        "a.b.c",
    ] {
        let r = s.refresh(bad).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")),
            "{bad:.40}"
        );
    }
    assert_eq!(s.refresh(&real.refresh).await.status, StatusCode::OK);
}

/// The security events of the user behind `access`, as `(type, session_id)`, newest first.
async fn events_of(s: &TestServer, access: &str) -> Vec<(String, String)> {
    let r = s
        .call(Method::GET, "/v1/security-events", None, Some(access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["session_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

pub async fn replaying_any_older_refresh_token_revokes_the_session(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    // The victim's token of generation 0 and then 1, after a thief rotated twice. No wait:
    // only the previous token enjoys the grace window, an older one is theft at once.
    for old in [0usize, 1] {
        let e = email(&format!("thief-{old}"));
        let first = s.signed_up(&e).await;
        let other = Session::from(&s.login(&e, crate::common::PW).await);
        let second = Session::from(&s.refresh(&first.refresh).await);
        let third = Session::from(&s.refresh(&second.refresh).await);
        let fourth = Session::from(&s.refresh(&third.refresh).await);
        let chain = [&first, &second, &third, &fourth];

        let replay = s.refresh(&chain[old].refresh).await;
        assert_eq!(
            (replay.status, replay.code()),
            (StatusCode::UNAUTHORIZED, Some("refresh_token_reused")),
            "generation {old}: {replay:?}"
        );
        // The thief's current token is refused, and every access token of the session.
        let current = s.refresh(&fourth.refresh).await;
        assert_eq!(
            (current.status, current.code()),
            (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token"))
        );
        for t in chain {
            let me = s.me(&t.access).await;
            assert_eq!(
                (me.status, me.code()),
                (StatusCode::UNAUTHORIZED, Some("token_revoked"))
            );
        }
        // Another session of the user is untouched and sees the event.
        assert_eq!(s.me(&other.access).await.status, StatusCode::OK);
        let events = events_of(&s, &other.access).await;
        assert!(
            events.contains(&("refresh_token_reused".to_owned(), first.id.clone())),
            "{events:?}"
        );
    }
}

pub async fn a_refresh_token_with_an_altered_generation_or_tag_revokes_nothing(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let first = s.signed_up(&email("tag")).await;
    let second = Session::from(&s.refresh(&first.refresh).await);
    let third = Session::from(&s.refresh(&second.refresh).await);
    let raw = |t: &str| B64.decode(&t[4..]).unwrap();
    let wire = |r: &[u8]| format!("tsr_{}", B64.encode(r));
    // Layout: user 16 ‖ session 16 ‖ generation 4 ‖ secret 32 ‖ tag 16.
    let mut older = raw(&third.refresh);
    older[32..36].copy_from_slice(&0u32.to_be_bytes());
    let mut retagged = raw(&first.refresh);
    retagged[70] ^= 1;
    let current = raw(&third.refresh);
    let legacy = [&current[..32], &current[36..68]].concat();
    for (what, bad) in [
        ("current token claiming generation 0", wire(&older)),
        ("generation 0 token with an altered tag", wire(&retagged)),
        ("ids and secret in the legacy form", wire(&legacy)),
    ] {
        let r = s.refresh(&bad).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")),
            "{what}: {r:?}"
        );
        assert_eq!(s.me(&third.access).await.status, StatusCode::OK, "{what}");
    }
    let events = events_of(&s, &third.access).await;
    assert!(
        !events.iter().any(|(t, _)| t == "refresh_token_reused"),
        "{events:?}"
    );
    // The family goes on.
    assert_eq!(s.refresh(&third.refresh).await.status, StatusCode::OK);
}
