//! Rate limiting and lockout.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

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
    enable_totp(&s, &sess).await;
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
    let prefix = crate::common::server::unique_prefix();
    let shared = |c: &mut tessera_server::config::RawConfig| {
        c.rate_limit = Some("on".into());
        c.redis_key_prefix = Some(prefix.clone());
    };
    let Some(a) = TestServer::start(Backend::RedisSqlite, shared).await else {
        return;
    };
    let Some(b) = TestServer::start(Backend::RedisSqlite, shared).await else {
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

/// Counts the statuses (and problem codes) of a batch of replies.
fn tally(replies: &[crate::common::http::Reply]) -> std::collections::BTreeMap<String, usize> {
    let mut t = std::collections::BTreeMap::new();
    for r in replies {
        let key = format!("{} {}", r.status.as_u16(), r.code().unwrap_or(""));
        *t.entry(key).or_insert(0) += 1;
    }
    t
}

/// `guesses` concurrent wrong credentials against a budget of `budget`: never more than the
/// budget are checked (401), and every other one is refused before the check (429). Each
/// request's time is taken when it arrives and the bucket may see them out of order; it
/// judges a late-run one at the latest arrival it has seen, but only up to 1 s later, so on
/// a starved machine one fewer may be checked — stricter, never looser. Then spends what is left of
/// the account's budget with sequential wrong sign-ins, so the account is locked either way.
async fn assert_budget(
    s: &TestServer,
    email: &str,
    t: &std::collections::BTreeMap<String, usize>,
    budget: usize,
    guesses: usize,
) {
    let checked = t.get("401 invalid_credentials").copied().unwrap_or(0);
    let refused = t.get("429 rate_limited").copied().unwrap_or(0);
    assert!(
        checked == budget || checked + 1 == budget,
        "checked {checked} of a budget of {budget}: {t:?}"
    );
    assert_eq!(checked + refused, guesses, "{t:?}");
    for _ in checked..budget {
        let r = s.login(email, "wrong password 123456").await;
        assert_eq!(r.code(), Some("invalid_credentials"), "{r:?}");
    }
}

/// The event types of the user behind `access`, newest first.
async fn event_types(s: &TestServer, access: &str) -> Vec<(String, Value)> {
    let r = s
        .call(
            Method::GET,
            "/v1/security-events?limit=100",
            None,
            Some(access),
        )
        .await;
    r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["type"].as_str().unwrap().to_owned(), e["details"].clone()))
        .collect()
}

/// Turns TOTP on for the user of `sess`; returns the secret.
async fn enable_totp(s: &TestServer, sess: &Session) -> String {
    super::mfa::enable_totp(s, sess).await.0
}

pub async fn concurrent_wrong_passwords_get_no_more_checks_than_the_budget(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.rate_limit = Some("on".into())).await else {
        return;
    };
    let e = email("burst");
    let sess = s.signed_up(&e).await;
    // 24 guesses at once against a budget of 10 per 15 minutes: the budget is taken before
    // Argon2, so no more than 10 are checked whatever the interleaving.
    let guesses = (0..24).map(|_| s.login(&e, "wrong password 123456"));
    let replies = futures::future::join_all(guesses).await;
    let t = tally(&replies);
    assert_budget(&s, &e, &t, 10, 24).await;
    assert!(
        replies
            .iter()
            .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
            .all(|r| r.headers.contains_key("retry-after"))
    );
    // Locked, even for the right password.
    assert_eq!(s.login(&e, PW).await.status, StatusCode::TOO_MANY_REQUESTS);
    let events = event_types(&s, &sess.access).await;
    let failed = events.iter().filter(|(t, _)| t == "login_failed").count();
    assert_eq!(failed, 10, "{events:?}");
    assert!(
        events.iter().any(|(t, _)| t == "account_locked"),
        "{events:?}"
    );
}

pub async fn concurrent_wrong_codes_get_no_more_checks_than_the_user_budget(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.rate_limit = Some("on".into())).await else {
        return;
    };
    let e = email("code-burst");
    let sess = s.signed_up(&e).await;
    let secret = enable_totp(&s, &sess).await;
    // Every correct password opens a new challenge (5 attempts each): 8 challenges give 40
    // attempts at once against the user's budget of 20.
    let mut ids = Vec::new();
    for _ in 0..8 {
        let r = s.login(&e, PW).await;
        assert_eq!(r.body["mfa_required"], true, "{r:?}");
        ids.push(r.str("challenge_id"));
    }
    let s = &s;
    let attempts = ids.iter().flat_map(|id| {
        (0..5).map(move |_| {
            s.call(
                Method::POST,
                "/v1/auth/mfa",
                Some(json!({"challenge_id": id, "code": "000000"})),
                None,
            )
        })
    });
    let replies = futures::future::join_all(attempts).await;
    let t = tally(&replies);
    assert_eq!(t.get("401 invalid_code"), Some(&20), "{t:?}");
    assert_eq!(t.get("429 rate_limited"), Some(&20), "{t:?}");
    // The budget is spent: even the right code waits.
    let id = s.login(&e, PW).await.str("challenge_id");
    crate::common::totp::fresh_step().await;
    let r = s
        .call(
            Method::POST,
            "/v1/auth/mfa",
            Some(json!({"challenge_id": id, "code": crate::common::totp::totp_now(&secret, 0)})),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
}

pub async fn a_stolen_access_token_is_no_password_or_code_oracle(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.rate_limit = Some("on".into())).await else {
        return;
    };
    let e = email("oracle");
    let sess = s.signed_up(&e).await;
    let secret = enable_totp(&s, &sess).await;
    // Removing the factor with guessed passwords: the sign-in budget, taken before Argon2.
    let guesses = (0..24).map(|_| {
        s.call(
            Method::DELETE,
            "/v1/mfa/totp",
            Some(json!({"password": "wrong password 123456", "code": "000000"})),
            Some(&sess.access),
        )
    });
    let t = tally(&futures::future::join_all(guesses).await);
    assert_budget(&s, &e, &t, 10, 24).await;
    // The same budget guards sign-in and password change: the account is locked for all.
    assert_eq!(s.login(&e, PW).await.status, StatusCode::TOO_MANY_REQUESTS);
    let change = s
        .call(
            Method::POST,
            "/v1/password/change",
            Some(json!({"current_password": PW, "new_password": format!("new {PW}")})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(change.status, StatusCode::TOO_MANY_REQUESTS, "{change:?}");
    let events = event_types(&s, &sess.access).await;
    assert!(
        events
            .iter()
            .any(|(t, d)| t == "login_failed" && d["action"] == "mfa_disable"),
        "{events:?}"
    );

    // A thief who knows the password still has only the code budget for the code.
    let e2 = email("oracle-code");
    let sess2 = s.signed_up(&e2).await;
    let secret2 = enable_totp(&s, &sess2).await;
    let mut statuses = Vec::new();
    for _ in 0..22 {
        let r = s
            .call(
                Method::DELETE,
                "/v1/mfa/totp",
                Some(json!({"password": PW, "code": "000000"})),
                Some(&sess2.access),
            )
            .await;
        statuses.push(format!("{} {}", r.status.as_u16(), r.code().unwrap_or("")));
    }
    assert_eq!(
        statuses.iter().filter(|s| *s == "401 invalid_code").count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("429 rate_limited")
    );
    let events = event_types(&s, &sess2.access).await;
    assert!(
        events
            .iter()
            .any(|(t, d)| t == "mfa_failed" && d["action"] == "mfa_disable"),
        "{events:?}"
    );
    let _ = (secret, secret2);
    assert_eq!(s.me(&sess2.access).await.body["mfa_enabled"], true);
}

pub async fn enrolment_and_password_change_spend_the_sign_in_budget(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.rate_limit = Some("on".into())).await else {
        return;
    };
    for route in ["enrol", "change"] {
        let e = email(route);
        let sess = s.signed_up(&e).await;
        let guesses = (0..24).map(|_| match route {
            "enrol" => s.call(
                Method::POST,
                "/v1/mfa/totp",
                Some(json!({"password": "wrong password 123456"})),
                Some(&sess.access),
            ),
            _ => s.call(
                Method::POST,
                "/v1/password/change",
                Some(json!({
                    "current_password": "wrong password 123456",
                    "new_password": format!("new {PW}"),
                })),
                Some(&sess.access),
            ),
        });
        let t = tally(&futures::future::join_all(guesses).await);
        assert_budget(&s, &e, &t, 10, 24).await;
        assert_eq!(
            s.login(&e, PW).await.status,
            StatusCode::TOO_MANY_REQUESTS,
            "{route}"
        );
    }
}

pub async fn wrong_admin_tokens_and_client_secrets_are_limited_per_address(b: Backend) {
    const ADMIN: &str = "admin-token-0123456789abcdef";
    const CLIENT: (&str, &str) = ("rs1", "client-secret-0123456789abcdefghijklmn");
    let Some(s) = TestServer::start(b, |c| {
        c.rate_limit = Some("on".into());
        c.admin_token = Some(ADMIN.into());
        c.introspection_clients = Some(format!("{}:{}", CLIENT.0, CLIENT.1));
    })
    .await
    else {
        return;
    };
    // 40 wrong admin tokens at once against a budget of 20 per hour.
    let s = &s;
    let guesses = (0..40).map(|i| async move {
        s.with_authorization("/v1/admin/stats", &format!("Bearer guess-{i}"))
            .await
    });
    let t = tally(&futures::future::join_all(guesses).await);
    assert_eq!(t.get("401 admin_required"), Some(&20), "{t:?}");
    assert_eq!(t.get("429 rate_limited"), Some(&20), "{t:?}");
    // Past the budget the right token gets no verdict either.
    let r = s
        .with_authorization("/v1/admin/stats", &format!("Bearer {ADMIN}"))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");

    // 120 wrong client secrets at once against 60 per hour.
    let guesses = (0..120).map(|i| {
        let secret = format!("guess-{i}");
        async move {
            s.form(
                "/oauth2/introspect",
                &[("token", "x")],
                Some((CLIENT.0, secret.as_str())),
            )
            .await
        }
    });
    let t = tally(&futures::future::join_all(guesses).await);
    assert_eq!(t.get("401 invalid_client"), Some(&60), "{t:?}");
    assert_eq!(t.get("429 rate_limited"), Some(&60), "{t:?}");
    let r = s
        .form("/oauth2/introspect", &[("token", "x")], Some(CLIENT))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
}

pub async fn ipv6_clients_are_limited_per_64_prefix(b: Backend) {
    let Some(s) = TestServer::start(b, |c| {
        c.rate_limit = Some("on".into());
        c.trusted_proxies = Some("127.0.0.1/32".into());
    })
    .await
    else {
        return;
    };
    let e = email("v6");
    s.register(&e, PW).await;
    let from = |addr: String| {
        let e = e.clone();
        let s = &s;
        async move {
            s.call_with(
                Method::POST,
                "/v1/auth/login",
                Some(json!({"email": e, "password": "wrong password 123456"})),
                &[("x-forwarded-for", addr.as_str())],
            )
            .await
        }
    };
    // One host rotating through its /64: a new address for every guess.
    for i in 1..=10 {
        let r = from(format!("2001:db8:1:2::{i:x}")).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    }
    let r = from("2001:db8:1:2:ffff:ffff:ffff:ffff".into()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
    // The next /64 is another client.
    let r = from("2001:db8:1:3::1".into()).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    // An IPv4-mapped address is its IPv4 address.
    for _ in 0..10 {
        assert_eq!(
            from("::ffff:198.51.100.7".into()).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = from("198.51.100.7".into()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{r:?}");
}
