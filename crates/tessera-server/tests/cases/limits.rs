//! Rate limiting and lockout.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{Backend, PW, Session, TestServer, email};

pub async fn failed_sign_ins_lock_the_account_from_that_address_with_retry_after(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.rate_limit = Some("on".into())).await else {
        return;
    };
    let e = email("lock");
    s.register(&e, PW).await;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..15 {
        let r = s.login(&e, "wrong password 123456").await;
        statuses.push(r.status.as_u16());
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r);
            break;
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        10,
        "{statuses:?}"
    );
    let r = limited.expect("429 after the budget");
    assert_eq!(r.code(), Some("rate_limited"));
    let wait: u64 = r
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=120).contains(&wait), "Retry-After {wait}");
    // Locked even with the right password (the attacker can't probe it).
    assert_eq!(s.login(&e, PW).await.status, StatusCode::TOO_MANY_REQUESTS);
    // Unknown emails are limited alike (no enumeration through the limiter).
    let ghost = email("ghost");
    let mut n = 0;
    while s.login(&ghost, "wrong password 123456").await.status != StatusCode::TOO_MANY_REQUESTS {
        n += 1;
        assert!(n <= 10, "unknown account never limited");
    }
    assert_eq!(n, 10);
    // Honest users from the same address are not affected.
    let other = email("honest");
    s.register(&other, PW).await;
    Session::from(&s.login(&other, PW).await);
}

pub async fn many_honest_sign_ins_from_one_address_are_not_limited(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.rate_limit = Some("on".into())).await else {
        return;
    };
    let e = email("nat");
    s.register(&e, PW).await;
    for _ in 0..40 {
        assert_eq!(s.login(&e, PW).await.status, StatusCode::OK);
    }
}

pub async fn wrong_second_factor_codes_are_limited_per_user(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.rate_limit = Some("on".into())).await else {
        return;
    };
    let e = email("mfa-limit");
    let sess = s.signed_up(&e).await;
    let en = s
        .call(Method::POST, "/v1/mfa/totp", None, Some(&sess.access))
        .await;
    let secret = en.str("secret");
    crate::common::totp::fresh_step().await;
    let code = crate::common::totp::totp_now(&secret, 0);
    s.call(
        Method::POST,
        "/v1/mfa/totp/confirm",
        Some(json!({"code": code})),
        Some(&sess.access),
    )
    .await;
    let mut limited = false;
    for _ in 0..6 {
        let id = s.login(&e, PW).await.str("challenge_id");
        for _ in 0..5 {
            let r = s
                .call(
                    Method::POST,
                    "/v1/auth/mfa",
                    Some(json!({"challenge_id": id, "code": "000000"})),
                    None,
                )
                .await;
            if r.code() == Some("rate_limited") {
                assert!(r.headers.contains_key("retry-after"));
                limited = true;
                break;
            }
        }
        if limited {
            break;
        }
    }
    assert!(limited, "fresh challenges do not reset the per-user budget");
}

/// Not per backend: two server processes on one Redis (the point of a distributed limiter).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_redis_share_the_limits() {
    let Some(a) =
        TestServer::start(Backend::RedisSqlite, |c| c.rate_limit = Some("on".into())).await
    else {
        return;
    };
    let Some(b) =
        TestServer::start(Backend::RedisSqlite, |c| c.rate_limit = Some("on".into())).await
    else {
        return;
    };
    // Failures count per account hash whether the account exists or not, so an email
    // neither server knows works across their separate SQLite files.
    let e = email("shared-limit");
    let mut failures = 0;
    for i in 0..30 {
        let srv = if i % 2 == 0 { &a } else { &b };
        let r = srv.login(&e, "wrong password 123456").await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        failures += 1;
    }
    assert_eq!(
        failures, 10,
        "the budget of 10 is shared, not 10 per process"
    );
    for srv in [&a, &b] {
        assert_eq!(
            srv.login(&e, "wrong password 123456").await.status,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
