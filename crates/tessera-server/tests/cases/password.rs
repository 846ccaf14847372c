//! Password reset by mail (outbox and a real SMTP server) and password change.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::binary::Binary;
use crate::common::http::{Http, Reply};
use crate::common::smtp::SmtpSink;
use crate::common::{Backend, PW, Session, TestServer, email};

pub(crate) const NEW_PW: &str = "a brand new passphrase 42";

pub(crate) async fn forgot(h: &Http, email: &str) -> Reply {
    h.call(
        Method::POST,
        "/v1/password/forgot",
        Some(json!({"email": email})),
        None,
    )
    .await
}

pub(crate) async fn reset(h: &Http, token: &str, new_password: &str) -> Reply {
    h.call(
        Method::POST,
        "/v1/password/reset",
        Some(json!({"token": token, "new_password": new_password})),
        None,
    )
    .await
}

pub(crate) async fn change(h: &Http, access: &str, current: &str, new_password: &str) -> Reply {
    h.call(
        Method::POST,
        "/v1/password/change",
        Some(json!({"current_password": current, "new_password": new_password})),
        Some(access),
    )
    .await
}

/// Undoes quoted-printable (RFC 2045 §6.7): soft line breaks and `=XX` escapes. Headers
/// pass through unchanged (they hold no `=`).
fn decode_quoted_printable(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'=')
            .then(|| b.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match escaped {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token of the last `token=` link in a mail (raw, possibly quoted-printable).
pub(crate) fn token_in(raw: &str) -> Option<String> {
    let mail = decode_quoted_printable(raw);
    let i = mail.rfind("token=")?;
    let t: String = mail[i + 6..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    (!t.is_empty()).then_some(t)
}

/// Every outbox message addressed to `to`, oldest first.
fn outbox_mails(s: &TestServer, to: &str) -> Vec<String> {
    let dir = s.data_dir.path().join("outbox");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|m| m.contains(&format!("To: {to}\r\n")))
        .collect()
}

/// Asks for a reset and returns the token from the newest outbox mail to `to`.
pub(crate) async fn mailed_token(s: &TestServer, to: &str) -> String {
    let before = outbox_mails(s, to).len();
    let r = forgot(s, to).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mails = outbox_mails(s, to);
        if mails.len() > before {
            let mail = mails.last().unwrap();
            return token_in(mail).unwrap_or_else(|| panic!("no link in {mail}"));
        }
        assert!(Instant::now() < deadline, "no reset mail for {to}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub(crate) async fn event_types(h: &Http, access: &str) -> Vec<String> {
    let r = h
        .call(Method::GET, "/v1/security-events", None, Some(access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str().map(str::to_owned))
        .collect()
}

fn assert_invalid_token(r: &Reply) {
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, Some("invalid_reset_token")),
        "{r:?}"
    );
    assert!(r.is_problem());
}

pub async fn password_reset_by_mail_sets_the_password_and_revokes_every_session(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("reset");
    let a = s.signed_up(&e).await;
    let other = Session::from(&s.login(&e, PW).await);

    let token = mailed_token(&s, &e).await;
    assert!(token.starts_with("tsp_"), "{token}");
    let mail = decode_quoted_printable(&outbox_mails(&s, &e).pop().unwrap());
    assert!(
        mail.contains(&format!("{}/reset-password?token={token}", s.issuer)),
        "default link: {mail}"
    );

    let weak = reset(&s, &token, "password1").await;
    assert_eq!(
        (weak.status, weak.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password")),
        "{weak:?}"
    );
    assert_eq!(
        s.me(&a.access).await.status,
        StatusCode::OK,
        "a refused reset changes nothing"
    );

    let done = reset(&s, &token, NEW_PW).await;
    assert_eq!(
        done.status,
        StatusCode::NO_CONTENT,
        "weak try left the token usable: {done:?}"
    );
    for sess in [&a, &other] {
        assert_eq!(s.me(&sess.access).await.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            s.refresh(&sess.refresh).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(s.login(&e, PW).await.status, StatusCode::UNAUTHORIZED);
    let fresh = Session::from(&s.login(&e, NEW_PW).await);
    let me = s.me(&fresh.access).await;
    // Bumped (twice: the reset revokes before and after writing the password).
    assert!(
        me.body["token_version"].as_u64().is_some_and(|v| v >= 1),
        "version bumped: {me:?}"
    );

    assert_invalid_token(&reset(&s, &token, "yet another passphrase 77").await);
    assert_eq!(
        s.login(&e, NEW_PW).await.status,
        StatusCode::OK,
        "a reused token changes nothing"
    );

    let types = event_types(&s, &fresh.access).await;
    let pos = |t: &str| types.iter().position(|x| x == t);
    assert!(
        pos("password_reset_completed") < pos("password_reset_requested")
            && pos("password_reset_completed").is_some(),
        "newest first: {types:?}"
    );
}

pub async fn forgot_password_answers_alike_for_known_unknown_and_malformed_emails(b: Backend) {
    const ADMIN: &str = "admin-secret-for-tests-0123";
    let Some(s) = TestServer::start(b, |c| c.admin_token = Some(ADMIN.into())).await else {
        return;
    };
    let known = email("known");
    s.signed_up(&known).await;
    let banned = email("banned");
    let reg = s.register(&banned, PW).await;
    let banned_id = reg.body["user"]["id"].as_str().unwrap().to_owned();
    let ban = s
        .call(
            Method::POST,
            &format!("/v1/admin/users/{banned_id}/ban"),
            Some(json!({"reason": "test"})),
            Some(ADMIN),
        )
        .await;
    assert_eq!(ban.status, StatusCode::NO_CONTENT, "{ban:?}");
    let unknown = email("ghost");
    let replies = [
        forgot(&s, &known).await,
        forgot(&s, &unknown).await,
        forgot(&s, "not an email").await,
        forgot(&s, &known.to_uppercase()).await,
        forgot(&s, &banned).await,
    ];
    for r in &replies {
        assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
        assert_eq!(r.body, replies[0].body, "same body for every email");
        assert_eq!(
            r.headers.get("content-length"),
            replies[0].headers.get("content-length")
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while outbox_mails(&s, &known).len() < 2 {
        assert!(Instant::now() < deadline, "two mails to the known account");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        outbox_mails(&s, &unknown).is_empty(),
        "no mail to an unknown address"
    );
    assert!(
        outbox_mails(&s, &banned).is_empty(),
        "no mail to a banned account"
    );
    let files = std::fs::read_dir(s.data_dir.path().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(files, 2, "mail only for the account");
    let bad = forgot(&s, "").await;
    assert_eq!(bad.status, StatusCode::ACCEPTED);
    let missing = s
        .call(Method::POST, "/v1/password/forgot", Some(json!({})), None)
        .await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
}

pub async fn reset_tokens_are_bound_to_their_user_and_refuse_forgeries(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let ea = email("victim");
    let eb = email("attacker");
    s.signed_up(&ea).await;
    let reg = s.register(&eb, PW).await;
    assert_eq!(reg.status, StatusCode::CREATED);
    let b_id: uuid::Uuid = reg.body["user"]["id"].as_str().unwrap().parse().unwrap();
    let b_session = Session::from(&s.login(&eb, PW).await);

    let token_a = mailed_token(&s, &ea).await;
    // A's secret under B's id: routing data is bound into the stored hash.
    let mut raw = URL_SAFE_NO_PAD
        .decode(token_a.strip_prefix("tsp_").unwrap())
        .unwrap();
    assert_eq!(raw.len(), 48, "16-byte id and 256-bit secret");
    raw[..16].copy_from_slice(b_id.as_bytes());
    let forged = format!("tsp_{}", URL_SAFE_NO_PAD.encode(&raw));
    assert_invalid_token(&reset(&s, &forged, NEW_PW).await);
    assert_eq!(s.login(&eb, PW).await.status, StatusCode::OK, "B untouched");
    // A forged link under a real user id is judged before the new password: a weak one, or
    // one built from the user's email, answers exactly as under an unknown id, so the link
    // endpoint reveals neither that the id exists nor its email.
    let mut unknown = raw.clone();
    unknown[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let unknown = format!("tsp_{}", URL_SAFE_NO_PAD.encode(&unknown));
    for weak in ["x", eb.as_str()] {
        let known = reset(&s, &forged, weak).await;
        assert_invalid_token(&known);
        assert_eq!(known.body, reset(&s, &unknown, weak).await.body, "{weak}");
    }
    assert_eq!(s.me(&b_session.access).await.status, StatusCode::OK);
    // A flipped secret bit.
    let mut flipped = URL_SAFE_NO_PAD
        .decode(token_a.strip_prefix("tsp_").unwrap())
        .unwrap();
    flipped[40] ^= 1;
    assert_invalid_token(
        &reset(
            &s,
            &format!("tsp_{}", URL_SAFE_NO_PAD.encode(&flipped)),
            NEW_PW,
        )
        .await,
    );
    for junk in [
        "",
        "tsp_",
        "tsr_AAAA",
        "not a token",
        &format!("{token_a}A"),
        &"A".repeat(4000),
    ] {
        assert_invalid_token(&reset(&s, junk, NEW_PW).await);
    }
    // None of that burned A's token.
    assert_eq!(
        reset(&s, &token_a, NEW_PW).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.login(&ea, NEW_PW).await.status, StatusCode::OK);

    // A token issued before a password change is void afterwards, and so is every other
    // outstanding one once a reset succeeded.
    let t1 = mailed_token(&s, &eb).await;
    let t2 = mailed_token(&s, &eb).await;
    assert_ne!(t1, t2);
    assert_eq!(
        change(&s, &b_session.access, PW, NEW_PW).await.status,
        StatusCode::NO_CONTENT
    );
    assert_invalid_token(&reset(&s, &t1, "third passphrase for bob 3").await);
    let t3 = mailed_token(&s, &eb).await;
    let t4 = mailed_token(&s, &eb).await;
    assert_eq!(
        reset(&s, &t4, "fourth passphrase for bob 4").await.status,
        StatusCode::NO_CONTENT
    );
    assert_invalid_token(&reset(&s, &t3, "fifth passphrase for bob 5").await);
    assert_invalid_token(&reset(&s, &t2, "fifth passphrase for bob 5").await);
}

pub async fn reset_tokens_expire(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.password_reset_ttl = Some("1s".into())).await else {
        return;
    };
    let e = email("expire");
    s.signed_up(&e).await;
    let token = mailed_token(&s, &e).await;
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_invalid_token(&reset(&s, &token, NEW_PW).await);
    assert_eq!(s.login(&e, PW).await.status, StatusCode::OK);
    let fresh = mailed_token(&s, &e).await;
    assert_eq!(
        reset(&s, &fresh, NEW_PW).await.status,
        StatusCode::NO_CONTENT
    );
}

pub async fn concurrent_resets_with_one_token_have_exactly_one_winner(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("race");
    s.signed_up(&e).await;
    let token = mailed_token(&s, &e).await;
    let attempts = (0..16).map(|i| {
        let h = s.fresh();
        let token = token.clone();
        async move {
            let pw = format!("racing passphrase number {i} x");
            (reset(&h, &token, &pw).await, pw)
        }
    });
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<&String> = results
        .iter()
        .filter(|(r, _)| r.status == StatusCode::NO_CONTENT)
        .map(|(_, pw)| pw)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        results.iter().map(|(r, _)| r.status).collect::<Vec<_>>()
    );
    for (r, _) in &results {
        if r.status != StatusCode::NO_CONTENT {
            assert_invalid_token(r);
        }
    }
    assert_eq!(
        s.login(&e, winners[0]).await.status,
        StatusCode::OK,
        "the winner's password holds"
    );
}

pub async fn password_change_needs_the_current_password_and_keeps_only_the_caller(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("change");
    let a = s.signed_up(&e).await;
    let other = Session::from(&s.login(&e, PW).await);
    let stranger = s.signed_up(&email("change-other")).await;

    let wrong = change(&s, &a.access, "not my password 123", NEW_PW).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, Some("invalid_credentials")),
        "{wrong:?}"
    );
    let weak = change(&s, &a.access, PW, "short").await;
    assert_eq!(
        (weak.status, weak.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("weak_password"))
    );
    let guessable = change(&s, &a.access, PW, &e).await;
    assert_eq!(
        guessable.code(),
        Some("weak_password"),
        "the email is no password"
    );
    assert_eq!(
        s.me(&other.access).await.status,
        StatusCode::OK,
        "refusals change nothing"
    );
    let anonymous = s
        .call(
            Method::POST,
            "/v1/password/change",
            Some(json!({"current_password": PW, "new_password": NEW_PW})),
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);

    assert_eq!(
        change(&s, &a.access, PW, NEW_PW).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.me(&a.access).await.status,
        StatusCode::OK,
        "caller keeps its session"
    );
    let a2 = Session::from(&s.refresh(&a.refresh).await);
    assert_eq!(s.me(&a2.access).await.status, StatusCode::OK);
    assert_eq!(s.me(&other.access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        s.refresh(&other.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.me(&stranger.access).await.status,
        StatusCode::OK,
        "other users untouched"
    );
    assert_eq!(s.login(&e, PW).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.login(&e, NEW_PW).await.status, StatusCode::OK);
    let stale = change(&s, &a2.access, PW, "another passphrase 99").await;
    assert_eq!(
        stale.status,
        StatusCode::UNAUTHORIZED,
        "the old password no longer counts"
    );

    let events = s
        .call(Method::GET, "/v1/security-events", None, Some(&a2.access))
        .await;
    let changed: Vec<&Value> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["type"] == "password_changed")
        .collect();
    assert_eq!(changed.len(), 1, "{events:?}");
    assert_eq!(changed[0]["session_id"], a.id.as_str());
    assert_eq!(changed[0]["details"]["sessions_revoked"], 1);
}

/// The real binary, `TESSERA_SMTP_URL` pointing at an SMTP server this test runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mail_goes_out_over_real_smtp() {
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = sink.url();
    let srv = Binary::serve(
        dir.path(),
        &[
            ("TESSERA_SMTP_URL", &url),
            (
                "TESSERA_PASSWORD_RESET_URL",
                "https://app.example/account/reset",
            ),
            ("TESSERA_MAIL_FROM", "Accounts <accounts@example.org>"),
        ],
    )
    .await;
    let e = email("smtp");
    let old = srv.signed_up(&e).await;
    let r = forgot(&srv, &e).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let ghost = forgot(&srv, &email("smtp-ghost")).await;
    assert_eq!((ghost.status, &ghost.body), (r.status, &r.body));

    let mail = sink
        .wait_for(&e, Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("no mail over SMTP: {}", srv.logs()));
    assert_eq!(mail.from, "accounts@example.org");
    assert!(mail.data.contains(&format!("To: {e}\r\n")), "{}", mail.data);
    assert!(
        mail.data.contains("From: Accounts <accounts@example.org>"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("Subject: Reset your password"),
        "{}",
        mail.data
    );
    assert!(
        decode_quoted_printable(&mail.data)
            .contains("https://app.example/account/reset?token=tsp_"),
        "{}",
        mail.data
    );
    let token = token_in(&mail.data).unwrap();

    assert_eq!(
        reset(&srv, &token, NEW_PW).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(srv.me(&old.access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(srv.login(&e, NEW_PW).await.status, StatusCode::OK);
    assert_invalid_token(&reset(&srv, &token, "one more passphrase 5").await);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.received().len(),
        1,
        "nothing sent for the unknown address"
    );
    assert!(
        !dir.path().join("tessera-data").join("outbox").exists(),
        "no outbox with SMTP configured"
    );
    let logs = srv.logs();
    assert!(
        !logs.contains(&token[4..]),
        "the token never reaches the log"
    );
    assert!(!logs.contains("not implemented"), "{logs}");
}
