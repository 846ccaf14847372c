//! Two-factor sign-in: TOTP enrolment, challenges, recovery codes, trusted devices.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::signin::decode;
use crate::common::http::Http;
use crate::common::totp::{fresh_step, totp_now};
use crate::common::{Backend, PW, Session, TestServer, email};

/// Registers, signs in and turns TOTP on. Returns (email, session, secret, recovery codes).
pub(crate) async fn enrolled(s: &TestServer, tag: &str) -> (String, Session, String, Vec<String>) {
    let e = email(tag);
    let sess = s.signed_up(&e).await;
    let (secret, codes) = enable_totp(s, &sess).await;
    (e, sess, secret, codes)
}

/// Turns TOTP on for the user of `sess` (password, then a first code). Returns (secret,
/// recovery codes).
pub(crate) async fn enable_totp(s: &Http, sess: &Session) -> (String, Vec<String>) {
    let en = s
        .call(
            Method::POST,
            "/v1/mfa/totp",
            Some(json!({"password": PW})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(en.status, StatusCode::OK, "{en:?}");
    let secret = en.str("secret");
    fresh_step().await;
    let conf = s
        .call(
            Method::POST,
            "/v1/mfa/totp/confirm",
            Some(json!({"code": totp_now(&secret, 0)})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(conf.status, StatusCode::OK, "{conf:?}");
    let codes = conf.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

pub(crate) async fn challenge(
    s: &TestServer,
    e: &str,
    extra: Value,
    cookie: Option<&str>,
) -> crate::common::http::Reply {
    let mut body = json!({"email": e, "password": PW});
    if let (Some(b), Some(x)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(x.clone());
    }
    let headers: Vec<(&str, &str)> = cookie.map(|c| vec![("cookie", c)]).unwrap_or_default();
    s.call_with(Method::POST, "/v1/auth/login", Some(body), &headers)
        .await
}

pub(super) async fn mfa(s: &TestServer, id: &str, code: &str) -> crate::common::http::Reply {
    s.call(
        Method::POST,
        "/v1/auth/mfa",
        Some(json!({"challenge_id": id, "code": code})),
        None,
    )
    .await
}

pub async fn totp_enrolment_and_second_factor_sign_in(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("totp");
    let sess = s.signed_up(&e).await;
    // A stolen access token alone cannot add a factor: the password is required.
    for (body, status, code) in [
        (json!({}), StatusCode::UNPROCESSABLE_ENTITY, None),
        (
            json!({"password": "wrong password 123456"}),
            StatusCode::UNAUTHORIZED,
            Some("invalid_credentials"),
        ),
    ] {
        let r = s
            .call(Method::POST, "/v1/mfa/totp", Some(body), Some(&sess.access))
            .await;
        assert_eq!(r.status, status, "{r:?}");
        if code.is_some() {
            assert_eq!(r.code(), code);
        }
    }
    let en = s
        .call(
            Method::POST,
            "/v1/mfa/totp",
            Some(json!({"password": PW})),
            Some(&sess.access),
        )
        .await;
    assert!(
        en.str("otpauth_uri").starts_with("otpauth://totp/") && en.str("qr_svg").contains("<svg")
    );
    let secret = en.str("secret");
    let wrong = s
        .call(
            Method::POST,
            "/v1/mfa/totp/confirm",
            Some(json!({"code": "000000"})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, Some("invalid_code"))
    );
    assert_eq!(
        s.me(&sess.access).await.body["mfa_enabled"],
        false,
        "pending is not enabled"
    );
    fresh_step().await;
    // Read just before the change, so the account view is cached: the change must show at
    // once anyway.
    assert_eq!(s.me(&sess.access).await.body["mfa_enabled"], false);
    let conf = s
        .call(
            Method::POST,
            "/v1/mfa/totp/confirm",
            Some(json!({"code": totp_now(&secret, 0)})),
            Some(&sess.access),
        )
        .await;
    let codes: Vec<String> = conf.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(s.me(&sess.access).await.body["mfa_enabled"], true);
    let again = s
        .call(
            Method::POST,
            "/v1/mfa/totp",
            Some(json!({"password": PW})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, Some("mfa_already_enabled"))
    );

    // Login now yields a challenge, not tokens.
    let ch = challenge(&s, &e, json!({}), None).await;
    assert_eq!(ch.status, StatusCode::OK);
    assert_eq!(ch.body["mfa_required"], true);
    assert!(ch.body.get("access_token").is_none());
    assert_eq!(ch.body["methods"], json!(["totp", "recovery_code"]));
    let id = ch.str("challenge_id");
    let bad = mfa(&s, &id, "123456").await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::UNAUTHORIZED, Some("invalid_code"))
    );
    assert_eq!(bad.body["attempts_left"], 4);
    fresh_step().await;
    let code = totp_now(&secret, 0);
    let ok = mfa(&s, &id, &code).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    let amr = decode(&ok.str("access_token")).1["amr"].clone();
    assert_eq!(amr, json!(["pwd", "otp", "mfa"]));
    let done = Session::from(&ok);
    assert_eq!(
        mfa(&s, &id, &code).await.code(),
        Some("challenge_expired"),
        "a challenge completes once"
    );
    let refreshed = Session::from(&s.refresh(&done.refresh).await);
    assert_eq!(
        decode(&refreshed.access).1["amr"],
        amr,
        "amr carried through refresh"
    );

    // The same code is refused on a new challenge (single use per step).
    let ch2 = challenge(&s, &e, json!({}), None).await.str("challenge_id");
    assert_eq!(mfa(&s, &ch2, &code).await.code(), Some("invalid_code"));
    // A recovery code works once.
    let r = mfa(&s, &ch2, &codes[0].to_uppercase()).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(
        decode(&r.str("access_token")).1["amr"],
        json!(["pwd", "mfa"])
    );
    let ch3 = challenge(&s, &e, json!({}), None).await.str("challenge_id");
    assert_eq!(
        mfa(&s, &ch3, &codes[0]).await.code(),
        Some("invalid_code"),
        "recovery code single use"
    );

    // Five wrong codes exhaust a challenge; even a good code is refused afterwards.
    let ch4 = challenge(&s, &e, json!({}), None).await.str("challenge_id");
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(mfa(&s, &ch4, "000000").await.status.as_u16());
    }
    assert_eq!(statuses, vec![401, 401, 401, 401, 401, 429]);
    let late = mfa(&s, &ch4, &totp_now(&secret, 1)).await;
    assert!(matches!(late.status.as_u16(), 401 | 429), "{late:?}");
    assert!(late.headers.get("retry-after").is_some() || late.status == StatusCode::UNAUTHORIZED);
    for unknown in ["nope", "AAAAAAAAAAAAAAAAAAAAAA", ""] {
        assert_eq!(
            mfa(&s, unknown, "000000").await.code(),
            Some("challenge_expired")
        );
    }

    let events = s
        .call(
            Method::GET,
            "/v1/security-events?limit=100",
            None,
            Some(&done.access),
        )
        .await;
    let types: Vec<&str> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["type"].as_str())
        .collect();
    for t in ["mfa_enabled", "mfa_failed", "recovery_code_used"] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
}

pub async fn concurrent_completions_of_one_challenge_open_one_session(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let (e, _, _, codes) = enrolled(&s, "race-mfa").await;
    let id = challenge(&s, &e, json!({}), None).await.str("challenge_id");
    let replies = futures::future::join_all(codes[..5].iter().map(|c| mfa(&s, &id, c))).await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
}

pub async fn trusted_devices_skip_the_second_factor_for_their_user_only(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let (e, _, secret, _) = enrolled(&s, "trust").await;
    let id = challenge(&s, &e, json!({"trust_device": true}), None)
        .await
        .str("challenge_id");
    fresh_step().await;
    let done = mfa(&s, &id, &totp_now(&secret, 0)).await;
    assert_eq!(done.status, StatusCode::OK);
    let cookies = done.cookies();
    let (value, attrs) = cookies
        .get("__Host-tessera_td")
        .cloned()
        .expect("trust cookie");
    for a in [
        "httponly",
        "secure",
        "samesite=strict",
        "path=/",
        "max-age=",
    ] {
        assert!(attrs.contains(a), "{a} in {attrs}");
    }
    let pair = format!("__Host-tessera_td={value}");
    let direct = challenge(&s, &e, json!({}), Some(&pair)).await;
    assert!(
        direct.body.get("access_token").is_some(),
        "trusted device skips MFA: {}",
        direct.body
    );
    let sess = Session::from(&direct);
    let listed = s
        .call(Method::GET, "/v1/devices/trusted", None, Some(&sess.access))
        .await;
    let devices = listed.body["devices"].as_array().cloned().unwrap();
    assert_eq!(devices.len(), 1);
    for f in ["id", "name", "created_at", "expires_at"] {
        assert!(devices[0].get(f).is_some(), "{f}");
    }
    let sessions = s
        .call(Method::GET, "/v1/sessions", None, Some(&sess.access))
        .await;
    assert!(
        sessions.body["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["trusted"] == true)
    );

    // My cookie does nothing for another user.
    let (e2, _, _, _) = enrolled(&s, "trust-other").await;
    let other = challenge(&s, &e2, json!({}), Some(&pair)).await;
    assert_eq!(other.body["mfa_required"], true);
    // Tampered cookie: not trusted.
    let mut forged = value.clone();
    forged.replace_range(forged.len() - 6.., "AAAAAA");
    let r = challenge(
        &s,
        &e,
        json!({}),
        Some(&format!("__Host-tessera_td={forged}")),
    )
    .await;
    assert_eq!(r.body["mfa_required"], true);

    let dev = devices[0]["id"].as_str().unwrap();
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/devices/trusted/{dev}"),
            None,
            Some(&sess.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = s
        .call(
            Method::DELETE,
            &format!("/v1/devices/trusted/{dev}"),
            None,
            Some(&sess.access),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::NOT_FOUND, Some("device_not_found"))
    );
    assert_eq!(
        challenge(&s, &e, json!({}), Some(&pair)).await.body["mfa_required"],
        true,
        "revoked device needs MFA again"
    );
}

/// Signing out everywhere forgets every trusted device, whoever does it: a stolen
/// `__Host-tessera_td` cookie with the password does not sign straight back in without the
/// second factor after the user's logout-all, an operator's revoke-sessions or a ban (lifted).
pub async fn signing_out_everywhere_forgets_trusted_devices(b: Backend) {
    const ADMIN: &str = "admin-secret-for-mfa-tests-0123456789";
    let Some(s) = TestServer::start(b, |c| c.admin_token = Some(ADMIN.into())).await else {
        return;
    };
    let (e, sess, _, codes) = enrolled(&s, "everywhere").await;
    let uid = s.me(&sess.access).await.str("id");
    for (how, code) in ["logout-all", "revoke-sessions", "ban"]
        .into_iter()
        .zip(&codes)
    {
        // A fresh trusted device each time (a recovery code: no waiting for a new step).
        let id = challenge(&s, &e, json!({"trust_device": true}), None)
            .await
            .str("challenge_id");
        let done = mfa(&s, &id, code).await;
        assert_eq!(done.status, StatusCode::OK, "{how}: {done:?}");
        let pair = format!(
            "__Host-tessera_td={}",
            done.cookies().get("__Host-tessera_td").unwrap().0
        );
        let trusted = challenge(&s, &e, json!({}), Some(&pair)).await;
        assert!(
            trusted.body.get("access_token").is_some(),
            "{how}: trusted before"
        );
        let r = match how {
            "logout-all" => {
                s.call(
                    Method::POST,
                    "/v1/auth/logout-all",
                    None,
                    Some(&trusted.str("access_token")),
                )
                .await
            }
            "revoke-sessions" => {
                s.call(
                    Method::POST,
                    &format!("/v1/admin/users/{uid}/revoke-sessions"),
                    None,
                    Some(ADMIN),
                )
                .await
            }
            _ => {
                let r = s
                    .call(
                        Method::POST,
                        &format!("/v1/admin/users/{uid}/ban"),
                        Some(json!({"reason": "incident"})),
                        Some(ADMIN),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
                s.call(
                    Method::DELETE,
                    &format!("/v1/admin/users/{uid}/ban"),
                    None,
                    Some(ADMIN),
                )
                .await
            }
        };
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{how}: {r:?}");
        let after = challenge(&s, &e, json!({}), Some(&pair)).await;
        assert_eq!(
            after.body["mfa_required"], true,
            "{how}: the device is forgotten: {}",
            after.body
        );
    }
}

pub async fn disabling_totp_needs_proof_and_clears_trusted_devices(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let (e, sess, secret, _) = enrolled(&s, "off").await;
    let id = challenge(&s, &e, json!({"trust_device": true}), None)
        .await
        .str("challenge_id");
    fresh_step().await;
    let signed_in_with = totp_now(&secret, 0);
    let done = mfa(&s, &id, &signed_in_with).await;
    let td = done.cookies().get("__Host-tessera_td").unwrap().0.clone();

    // The code that signed in cannot also remove the factor: a step proves the user once,
    // whatever for (a code watched or relayed at sign-in is spent).
    let r = s
        .call(
            Method::DELETE,
            "/v1/mfa/totp",
            Some(json!({"password": PW, "code": signed_in_with})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, Some("invalid_code")),
        "{r:?}"
    );

    // Both proofs are needed: a stolen access token with the password alone, or with a code
    // alone, removes nothing. The next step's code (inside the one-step skew) is unspent.
    let code = totp_now(&secret, 1);
    for (body, status, problem) in [
        (
            json!({"password": PW}),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        (
            json!({"code": code}),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        (
            json!({"password": "wrong password 123456", "code": code}),
            StatusCode::UNAUTHORIZED,
            Some("invalid_credentials"),
        ),
        (
            json!({"password": PW, "code": "000000"}),
            StatusCode::UNAUTHORIZED,
            Some("invalid_code"),
        ),
    ] {
        let r = s
            .call(
                Method::DELETE,
                "/v1/mfa/totp",
                Some(body),
                Some(&sess.access),
            )
            .await;
        assert_eq!(r.status, status, "{r:?}");
        if problem.is_some() {
            assert_eq!(r.code(), problem);
        }
    }
    assert_eq!(s.me(&sess.access).await.body["mfa_enabled"], true);
    let r = s
        .call(
            Method::DELETE,
            "/v1/mfa/totp",
            Some(json!({"password": PW, "code": code})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(s.me(&sess.access).await.body["mfa_enabled"], false);
    let plain = s.login(&e, PW).await;
    assert!(
        plain.body.get("access_token").is_some(),
        "no second factor any more"
    );
    let list = s
        .call(
            Method::GET,
            "/v1/devices/trusted",
            None,
            Some(&plain.str("access_token")),
        )
        .await;
    assert_eq!(list.body["devices"], json!([]), "trusted devices cleared");
    let _ = td;
    let r = s
        .call(
            Method::DELETE,
            "/v1/mfa/totp",
            Some(json!({"password": PW, "code": "123456"})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(r.code(), Some("mfa_not_enabled"));
}

pub async fn an_expired_challenge_is_refused_even_with_a_good_code(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.mfa_challenge_ttl = Some("1s".into())).await else {
        return;
    };
    let (e, _, secret, codes) = enrolled(&s, "expire").await;
    let ch = challenge(&s, &e, json!({}), None).await;
    assert_eq!(ch.body["expires_in"], 1);
    let id = ch.str("challenge_id");
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let r = mfa(&s, &id, &codes[1]).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, Some("challenge_expired"))
    );
    let r = mfa(&s, &id, &totp_now(&secret, 0)).await;
    assert_eq!(r.code(), Some("challenge_expired"));
    // The recovery code was not spent by the refused attempt.
    let id = challenge(&s, &e, json!({}), None).await.str("challenge_id");
    assert_eq!(mfa(&s, &id, &codes[1]).await.status, StatusCode::OK);
}

pub async fn concurrent_confirmations_confirm_once_and_keep_the_winners_codes(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("confirm-race");
    let sess = s.signed_up(&e).await;
    let en = s
        .call(
            Method::POST,
            "/v1/mfa/totp",
            Some(json!({"password": PW})),
            Some(&sess.access),
        )
        .await;
    let secret = en.str("secret");
    fresh_step().await;
    // Two valid codes (this step and the previous one), sent at once.
    let confirm = |offset: i64| {
        let code = totp_now(&secret, offset);
        let s = &s;
        let access = sess.access.clone();
        async move {
            s.call(
                Method::POST,
                "/v1/mfa/totp/confirm",
                Some(json!({"code": code})),
                Some(&access),
            )
            .await
        }
    };
    let (a, b) = futures::future::join(confirm(0), confirm(-1)).await;
    let winners: Vec<_> = [&a, &b]
        .into_iter()
        .filter(|r| r.status == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "{a:?} {b:?}");
    let loser = if a.status == StatusCode::OK { &b } else { &a };
    assert_eq!(loser.code(), Some("mfa_already_enabled"), "{loser:?}");
    // The codes the winner showed are the ones that work.
    let code = winners[0].body["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let id = challenge(&s, &e, json!({}), None).await.str("challenge_id");
    assert_eq!(mfa(&s, &id, &code).await.status, StatusCode::OK);
}

pub async fn a_challenge_opened_before_a_password_change_or_sign_out_everywhere_cannot_complete(
    b: Backend,
) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let (e, sess, secret, codes) = enrolled(&s, "stale-challenge").await;
    // The attacker passed the password step with the old password and waits.
    let stale = challenge(&s, &e, json!({}), None).await.str("challenge_id");
    let new_pw = format!("new {PW}");
    let r = s
        .call(
            Method::POST,
            "/v1/password/change",
            Some(json!({"current_password": PW, "new_password": new_pw})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    fresh_step().await;
    let r = mfa(&s, &stale, &totp_now(&secret, 0)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, Some("challenge_expired")),
        "{r:?}"
    );
    // The recovery code was not spent on it.
    assert_eq!(
        mfa(&s, &stale, &codes[0]).await.code(),
        Some("challenge_expired")
    );

    // "Sign out everywhere" voids pending challenges too.
    let body = json!({"email": e, "password": new_pw});
    let pending = s
        .call(Method::POST, "/v1/auth/login", Some(body.clone()), None)
        .await
        .str("challenge_id");
    assert_eq!(
        s.logout_all(&sess.access).await.status,
        StatusCode::NO_CONTENT
    );
    let r = mfa(&s, &pending, &codes[0]).await;
    assert_eq!(r.code(), Some("challenge_expired"), "{r:?}");
    // A challenge opened now completes.
    let fresh = s
        .call(Method::POST, "/v1/auth/login", Some(body), None)
        .await
        .str("challenge_id");
    assert_eq!(mfa(&s, &fresh, &codes[0]).await.status, StatusCode::OK);
}
