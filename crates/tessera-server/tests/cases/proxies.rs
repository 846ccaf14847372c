//! The client address behind trusted reverse proxies (`trusted_proxies`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::http::Reply;
use crate::common::{Backend, PW, Session, TestServer, email};

const WRONG: &str = "wrong password 123456";

/// A documentation-range address no other run uses (the Redis backends share one server,
/// and per-address buckets live there).
fn address() -> String {
    let b = uuid::Uuid::new_v4().into_bytes();
    format!("198.18.{}.{}", b[0], b[1])
}

async fn login_from(s: &TestServer, email: &str, password: &str, xff: &str) -> Reply {
    s.call_with(
        Method::POST,
        "/v1/auth/login",
        Some(json!({"email": email, "password": password})),
        &[("x-forwarded-for", xff)],
    )
    .await
}

/// Fails sign-ins from `xff` until the lockout answers; returns how many 401s came first.
async fn lock_out(s: &TestServer, email: &str, xff: &str) -> usize {
    let mut failures = 0;
    loop {
        let r = login_from(s, email, WRONG, xff).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            return failures;
        }
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
        failures += 1;
        assert!(failures <= 10, "never locked out");
    }
}

async fn events(s: &TestServer, access: &str) -> Vec<Value> {
    let r = s
        .call(
            Method::GET,
            "/v1/security-events?limit=100",
            None,
            Some(access),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["events"].as_array().cloned().unwrap_or_default()
}

async fn current_session_ip(s: &TestServer, access: &str) -> Value {
    let r = s
        .call(Method::GET, "/v1/sessions", None, Some(access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let sessions = r.body["sessions"].as_array().cloned().unwrap_or_default();
    let current = sessions
        .iter()
        .find(|x| x["current"] == true)
        .unwrap_or_else(|| panic!("no current session in {sessions:?}"));
    current["ip"].clone()
}

pub async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_address(b: Backend) {
    let Some(s) = TestServer::start(b, |c| {
        c.rate_limit = Some("on".into());
        c.trusted_proxies = Some("127.0.0.0/8".into());
    })
    .await
    else {
        return;
    };
    let e = email("proxied");
    s.register(&e, PW).await;
    let (attacker, honest) = (address(), address());
    assert_eq!(lock_out(&s, &e, &attacker).await, 10);
    // The lockout is the attacker's address, not the proxy's: the honest client still gets
    // 401 for a wrong password and signs in with the right one.
    let r = login_from(&s, &e, WRONG, &honest).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    let r = login_from(&s, &e, PW, &honest).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let session = Session::from(&r);
    // Spoofing the honest address on the left does not escape: the proxy appended the
    // attacker's real address, and the right-most untrusted entry wins.
    let spoofed = format!("{honest}, {attacker}");
    let r = login_from(&s, &e, PW, &spoofed).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
    // A trusted hop on the right is skipped.
    let r = login_from(&s, &e, PW, &format!("{attacker}, 127.0.0.9")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
    // The session and the security events carry the forwarded addresses.
    assert_eq!(
        current_session_ip(&s, &session.access).await,
        honest.as_str()
    );
    let events = events(&s, &session.access).await;
    let ip_of = |kind: &str| -> Vec<Value> {
        events
            .iter()
            .filter(|x| x["type"] == kind)
            .map(|x| x["ip"].clone())
            .collect()
    };
    assert_eq!(
        ip_of("login"),
        vec![Value::from(honest.as_str())],
        "{events:?}"
    );
    let failed = ip_of("login_failed");
    assert_eq!(
        failed.iter().filter(|ip| **ip == attacker.as_str()).count(),
        10,
        "{events:?}"
    );
    assert_eq!(
        failed.iter().filter(|ip| **ip == honest.as_str()).count(),
        1,
        "{events:?}"
    );
    // `Forwarded` works alike (quoted IPv6 with a port).
    let r = s
        .call_with(
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": e, "password": PW})),
            &[("forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let v6 = Session::from(&r);
    assert_eq!(
        current_session_ip(&s, &v6.access).await,
        "2001:db8:cafe::17"
    );
}

pub async fn without_trusted_proxies_forwarding_headers_are_ignored(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.rate_limit = Some("on".into())).await else {
        return;
    };
    let e = email("unproxied");
    s.register(&e, PW).await;
    let (first, second) = (address(), address());
    assert_eq!(lock_out(&s, &e, &first).await, 10);
    // Another forwarded address is the same client (the peer): still locked out.
    let r = login_from(&s, &e, PW, &second).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
    // The session records the peer, not the header.
    let other = email("unproxied-2");
    s.register(&other, PW).await;
    let r = s
        .call_with(
            Method::POST,
            "/v1/auth/login",
            Some(json!({"email": other, "password": PW})),
            &[
                ("x-forwarded-for", &second),
                ("forwarded", "for=198.18.0.1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let session = Session::from(&r);
    assert_eq!(current_session_ip(&s, &session.access).await, "127.0.0.1");
}
