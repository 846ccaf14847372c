//! Admin API, bans, security events.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Backend, PW, Session, TestServer, email};

const ADMIN: &str = "admin-secret-for-tests-0123456789";

fn admin() -> Option<&'static str> {
    Some(ADMIN)
}

pub async fn admin_api_needs_the_admin_token_and_bans_hold(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.admin_token = Some(ADMIN.into())).await else {
        return;
    };
    let e = email("ban");
    let reg = s.register(&e, PW).await;
    let uid = reg.body["user"]["id"].as_str().unwrap().to_owned();
    let a = Session::from(&s.login(&e, PW).await);
    let b2 = Session::from(&s.login(&e, PW).await);

    for token in [
        None,
        Some(a.access.as_str()),
        Some("admin-secret-for-tests-012345678"),
    ] {
        let r = s.call(Method::GET, "/v1/admin/stats", None, token).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some("admin_required"))
        );
    }
    let stats = s.call(Method::GET, "/v1/admin/stats", None, admin()).await;
    assert_eq!(stats.status, StatusCode::OK, "{stats:?}");
    assert!(
        stats.body["sessions_active"].as_u64().unwrap() >= 2,
        "{}",
        stats.body
    );
    assert!(stats.body["access_tokens_active"].as_u64().unwrap() >= 2);
    assert!(stats.body["users"].as_u64().unwrap() >= 1);

    let list = s
        .call(
            Method::GET,
            &format!("/v1/admin/users/{uid}/sessions"),
            None,
            admin(),
        )
        .await;
    assert_eq!(list.body["sessions"].as_array().map(Vec::len), Some(2));
    for unknown in [uuid::Uuid::now_v7().to_string(), "nope".to_owned()] {
        for (m, path) in [
            (Method::GET, format!("/v1/admin/users/{unknown}/sessions")),
            (
                Method::POST,
                format!("/v1/admin/users/{unknown}/revoke-sessions"),
            ),
            (Method::DELETE, format!("/v1/admin/users/{unknown}/ban")),
        ] {
            let r = s.call(m, &path, None, admin()).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::NOT_FOUND, Some("user_not_found")),
                "{path}"
            );
        }
        let r = s
            .call(
                Method::POST,
                &format!("/v1/admin/users/{unknown}/ban"),
                Some(json!({"reason": "x"})),
                admin(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }

    let r = s
        .call(
            Method::POST,
            &format!("/v1/admin/users/{uid}/ban"),
            Some(json!({"reason": "abuse"})),
            admin(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for sess in [&a, &b2] {
        assert_eq!(
            s.me(&sess.access).await.status,
            StatusCode::UNAUTHORIZED,
            "ban kills tokens"
        );
        let r = s.refresh(&sess.refresh).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, Some("account_disabled"))
        );
    }
    let r = s.login(&e, PW).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, Some("account_disabled"))
    );
    let r = s.login(&e, "wrong password 123456").await;
    assert_eq!(
        r.code(),
        Some("invalid_credentials"),
        "a ban is only revealed to the password holder"
    );
    // ... and to a holder of one of the account's own (tagged) refresh tokens: a token
    // forged from the user's id alone (the untagged legacy form, which no key vouches for)
    // learns nothing.
    let (user, session) = tessera_core::refresh::RefreshToken::route(&a.refresh).unwrap();
    let forged = tessera_core::refresh::RefreshToken::generate_legacy(user, session).encode();
    let r = s.refresh(&forged).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")),
        "{r:?}"
    );

    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/admin/users/{uid}/ban"),
            None,
            admin(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let z = Session::from(&s.login(&e, PW).await);
    let listed = s
        .call(Method::GET, "/v1/sessions", None, Some(&z.access))
        .await;
    assert_eq!(
        listed.body["sessions"].as_array().map(Vec::len),
        Some(1),
        "sessions ended by the ban are not listed"
    );
    let r = s
        .call(
            Method::POST,
            &format!("/v1/admin/users/{uid}/revoke-sessions"),
            None,
            admin(),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(s.me(&z.access).await.code(), Some("token_revoked"));

    let last = Session::from(&s.login(&e, PW).await);
    let events = s
        .call(Method::GET, "/v1/security-events", None, Some(&last.access))
        .await;
    let types: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["type"].as_str())
        .collect();
    for t in [
        "account_banned",
        "account_unbanned",
        "sessions_revoked_by_admin",
        "login",
        "login_failed",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }

    // Without a configured token the admin API is off.
    let Some(off) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let r = off
        .call(Method::GET, "/v1/admin/stats", None, admin())
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, Some("admin_disabled"))
    );
}

pub async fn security_events_are_per_user_newest_first_and_paged(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("ev");
    s.register(&e, PW).await;
    s.login(&e, "wrong password 123456").await;
    let a = Session::from(&s.login(&e, PW).await);
    let b2 = Session::from(&s.login(&e, PW).await);
    s.logout(&b2.access).await;
    let stranger = s.signed_up(&email("ev-other")).await;

    let all = s
        .call(Method::GET, "/v1/security-events", None, Some(&a.access))
        .await;
    let events = all.body["events"].as_array().cloned().unwrap();
    let types: Vec<&str> = events.iter().filter_map(|x| x["type"].as_str()).collect();
    assert_eq!(
        types,
        vec!["logout", "login", "login", "login_failed"],
        "newest first"
    );
    assert_eq!(events[0]["session_id"], b2.id.as_str());
    for ev in &events {
        for f in ["id", "type", "at", "ip", "session_id", "device", "details"] {
            assert!(ev.get(f).is_some(), "{f} in {ev}");
        }
    }
    let page = s
        .call(
            Method::GET,
            "/v1/security-events?limit=2",
            None,
            Some(&a.access),
        )
        .await;
    let page: Vec<Value> = page.body["events"].as_array().cloned().unwrap();
    assert_eq!(page.len(), 2);
    // An empty `limit` counts as absent, as an empty `before` does.
    let all = s
        .call(
            Method::GET,
            "/v1/security-events?limit=&before=",
            None,
            Some(&a.access),
        )
        .await;
    assert_eq!(all.status, StatusCode::OK, "{all:?}");
    assert_eq!(all.body["events"], json!(events), "{all:?}");
    let before = page[1]["at"].as_str().unwrap();
    let older = s
        .call(
            Method::GET,
            &format!("/v1/security-events?before={before}"),
            None,
            Some(&a.access),
        )
        .await;
    let older: Vec<Value> = older.body["events"].as_array().cloned().unwrap();
    assert!(
        older.iter().all(|x| x["at"].as_str().unwrap() < before),
        "strictly older"
    );
    let bad = s
        .call(
            Method::GET,
            "/v1/security-events?before=yesterday",
            None,
            Some(&a.access),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);

    let theirs = s
        .call(
            Method::GET,
            "/v1/security-events",
            None,
            Some(&stranger.access),
        )
        .await;
    let theirs = theirs.body["events"].as_array().cloned().unwrap();
    assert_eq!(theirs.len(), 1, "only their own sign-in");
}
