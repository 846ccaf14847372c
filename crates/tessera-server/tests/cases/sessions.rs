//! Sessions and devices, single-token revocation, lifetimes, session limit.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::signin::decode;
use crate::common::{Backend, PW, Session, TestServer, email};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

async fn login_as(s: &TestServer, e: &str, ua: &str, device: Option<&str>) -> Session {
    let mut body = json!({"email": e, "password": PW});
    if let Some(d) = device {
        body["device_name"] = json!(d);
    }
    Session::from(
        &s.call_with(
            Method::POST,
            "/v1/auth/login",
            Some(body),
            &[("user-agent", ua)],
        )
        .await,
    )
}

async fn sessions(s: &TestServer, access: &str) -> Vec<Value> {
    let r = s
        .call(Method::GET, "/v1/sessions", None, Some(access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["sessions"].as_array().cloned().unwrap_or_default()
}

pub async fn sessions_list_parsed_devices_and_ending_one_kills_exactly_it(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("dev");
    s.register(&e, PW).await;
    let laptop = login_as(&s, &e, FIREFOX, Some("work laptop")).await;
    let phone = login_as(&s, &e, IPHONE, None).await;

    let list = sessions(&s, &laptop.access).await;
    assert_eq!(list.len(), 2);
    let of = |id: &str| list.iter().find(|x| x["id"] == id).cloned().unwrap();
    let l = of(&laptop.id);
    assert_eq!(l["current"], true);
    assert_eq!(l["device"]["name"], "work laptop");
    assert_eq!(l["device"]["browser"], "Firefox 128");
    assert_eq!(l["device"]["os"], "Linux");
    assert_eq!(l["device"]["kind"], "desktop");
    assert_eq!(l["trusted"], false);
    for field in ["created_at", "last_seen_at", "expires_at", "ip"] {
        assert!(l.get(field).is_some(), "{field}");
    }
    let p = of(&phone.id);
    assert_eq!(p["current"], false);
    assert!(
        p["device"]["os"].as_str().unwrap().starts_with("iPhone"),
        "{p}"
    );
    assert_eq!(p["device"]["kind"], "mobile");

    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{}", phone.id),
            None,
            Some(&laptop.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(s.me(&phone.access).await.code(), Some("token_revoked"));
    assert_eq!(
        s.refresh(&phone.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.me(&laptop.access).await.status, StatusCode::OK);
    assert_eq!(
        sessions(&s, &laptop.access).await.len(),
        1,
        "the index drops the ended session"
    );

    for bad in [
        uuid::Uuid::now_v7().to_string(),
        "not-a-uuid".to_owned(),
        phone.id.clone(),
    ] {
        let r = s
            .call(
                Method::DELETE,
                &format!("/v1/sessions/{bad}"),
                None,
                Some(&laptop.access),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, Some("session_not_found")),
            "{bad}"
        );
    }
    let other = s.signed_up(&email("other")).await;
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{}", other.id),
            None,
            Some(&laptop.access),
        )
        .await;
    assert_eq!(
        r.code(),
        Some("session_not_found"),
        "another user's session is not mine"
    );
    assert_eq!(s.me(&other.access).await.status, StatusCode::OK);
}

pub async fn revoking_one_access_token_leaves_its_session(b: Backend) {
    for mode in ["allowlist", "denylist"] {
        let Some(s) = TestServer::start(b, |c| c.revocation_mode = Some(mode.into())).await else {
            return;
        };
        let a = s.signed_up(&email("jti")).await;
        let jti = decode(&a.access).1["jti"].as_str().unwrap().to_owned();
        let r = s
            .call(
                Method::DELETE,
                &format!("/v1/tokens/{jti}"),
                None,
                Some(&a.access),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{mode}");
        assert_eq!(
            s.me(&a.access).await.code(),
            Some("token_revoked"),
            "{mode}"
        );
        let a2 = Session::from(&s.refresh(&a.refresh).await);
        assert_eq!(
            s.me(&a2.access).await.status,
            StatusCode::OK,
            "{mode}: session survives"
        );

        let other = s.signed_up(&email("jti-other")).await;
        let ojti = decode(&other.access).1["jti"].as_str().unwrap().to_owned();
        for bad in [ojti.as_str(), &uuid::Uuid::new_v4().to_string(), "nope"] {
            let r = s
                .call(
                    Method::DELETE,
                    &format!("/v1/tokens/{bad}"),
                    None,
                    Some(&a2.access),
                )
                .await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::NOT_FOUND, Some("token_not_found")),
                "{mode} {bad}"
            );
        }
        assert_eq!(
            s.me(&other.access).await.status,
            StatusCode::OK,
            "{mode}: not mine to revoke"
        );
    }
}

pub async fn session_limit_evicts_the_oldest(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.max_sessions_per_user = Some(2)).await else {
        return;
    };
    let e = email("max");
    s.register(&e, PW).await;
    let first = Session::from(&s.login(&e, PW).await);
    let second = Session::from(&s.login(&e, PW).await);
    let third = Session::from(&s.login(&e, PW).await);
    assert_eq!(
        s.me(&first.access).await.code(),
        Some("token_revoked"),
        "oldest evicted"
    );
    assert_eq!(
        s.refresh(&first.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    for kept in [&second, &third] {
        assert_eq!(s.me(&kept.access).await.status, StatusCode::OK);
    }
    let ids: Vec<String> = sessions(&s, &third.access)
        .await
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        ids,
        vec![second.id.clone(), third.id.clone()],
        "oldest first, evicted gone"
    );
    let ev = s
        .call(
            Method::GET,
            "/v1/security-events",
            None,
            Some(&third.access),
        )
        .await;
    assert!(
        ev.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["type"] == "session_evicted")
    );
}

pub async fn idle_timeout_and_absolute_lifetime_end_sessions(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.session_idle_timeout = Some("2s".into())).await else {
        return;
    };
    let idle = s.signed_up(&email("idle")).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let e = email("idle2");
    let active = s.signed_up(&e).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let active = Session::from(&s.refresh(&active.refresh).await);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        s.refresh(&idle.refresh).await.status,
        StatusCode::UNAUTHORIZED,
        "idle session ended"
    );
    assert_eq!(s.me(&idle.access).await.code(), Some("token_revoked"));
    assert_eq!(
        s.refresh(&active.refresh).await.status,
        StatusCode::OK,
        "refreshing keeps it alive"
    );

    let Some(s) = TestServer::start(b, |c| c.refresh_token_ttl = Some("3s".into())).await else {
        return;
    };
    let e = email("abs");
    let a = s.signed_up(&e).await;
    assert!(
        s.login(&e, PW).await.body["refresh_expires_in"]
            .as_u64()
            .unwrap()
            <= 3
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let a = Session::from(&s.refresh(&a.refresh).await);
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(
        s.refresh(&a.refresh).await.status,
        StatusCode::UNAUTHORIZED,
        "absolute lifetime is absolute"
    );
    let fresh = Session::from(&s.login(&e, PW).await);
    assert_eq!(
        sessions(&s, &fresh.access).await.len(),
        1,
        "expired sessions are not listed"
    );
}

/// Session ids are not secrets (every access token carries its own): a user naming another
/// user's session in `DELETE /v1/sessions/{id}` gets 404 and changes nothing of it: not
/// the session, not its durable copy (whose loss would make the next refresh look like a
/// revoked session's), not its pending rotation.
pub async fn ending_another_users_session_by_its_id_changes_nothing(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let (victim, attacker) = (email("victim-sid"), email("attacker-sid"));
    s.register(&victim, PW).await;
    s.register(&attacker, PW).await;
    let v = login_as(&s, &victim, FIREFOX, None).await;
    let a = login_as(&s, &attacker, FIREFOX, None).await;
    // A rotation, so that one is pending in the mirror's queue.
    let v = Session::from(&s.refresh(&v.refresh).await);
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{}", v.id),
            None,
            Some(&a.access),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, Some("session_not_found")),
        "{r:?}"
    );
    assert_eq!(s.me(&v.access).await.status, StatusCode::OK);
    let next = s.refresh(&v.refresh).await;
    assert_eq!(next.status, StatusCode::OK, "{next:?}");
}
