//! A state store that fails between the steps of a revoking flow (a [`FaultyStore`] that
//! refuses revocations on demand): the user gets an error, never 204, and once the store is
//! back no session the flow was meant to end is alive — at once, or after the retry the
//! error asks for.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::password::{NEW_PW, change, mailed_token, reset};
use crate::common::faulty::{Faults, FaultyStore};
use crate::common::http::Reply;
use crate::common::{Backend, PW, Session, TestServer, email};

const ADMIN: &str = "admin-secret-for-tests-0123456789";

async fn faulty(b: Backend) -> Option<(TestServer, Arc<Faults>)> {
    let faults = Faults::new();
    let f = faults.clone();
    let s = TestServer::start_wrapped(
        b,
        |c| c.admin_token = Some(ADMIN.into()),
        move |store| FaultyStore::wrap(store, f),
    )
    .await?;
    Some((s, faults))
}

fn assert_unavailable(r: &Reply) {
    assert_eq!(
        (r.status, r.code()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("state_store_unavailable")
        ),
        "{r:?}"
    );
}

async fn assert_dead(s: &TestServer, x: &Session) {
    assert_eq!(s.me(&x.access).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(s.refresh(&x.refresh).await.status, StatusCode::UNAUTHORIZED);
}

/// The reset's first revocation fails: 503, the password is unchanged and the link still
/// works; the retry then ends the attacker's session.
pub async fn a_reset_whose_revocation_fails_changes_nothing_until_the_retry(b: Backend) {
    let Some((s, faults)) = faulty(b).await else {
        return;
    };
    let e = email("reset-outage");
    s.signed_up(&e).await;
    let attacker = Session::from(&s.login(&e, PW).await);
    let token = mailed_token(&s, &e).await;

    faults.fail_revocations_after(0);
    assert_unavailable(&reset(&s, &token, NEW_PW).await);
    faults.heal();
    assert_eq!(
        s.login(&e, PW).await.status,
        StatusCode::OK,
        "the password is unchanged"
    );
    let r = reset(&s, &token, NEW_PW).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "the retry works: {r:?}");
    assert_dead(&s, &attacker).await;
}

/// The reset fails after the new password is written (its second revocation): 503, and
/// still no session from before the reset is alive once the store is back.
pub async fn a_reset_failing_after_the_password_write_leaves_no_old_session(b: Backend) {
    let Some((s, faults)) = faulty(b).await else {
        return;
    };
    let e = email("reset-outage-late");
    s.signed_up(&e).await;
    let attacker = Session::from(&s.login(&e, PW).await);
    let token = mailed_token(&s, &e).await;

    faults.fail_revocations_after(1);
    assert_unavailable(&reset(&s, &token, NEW_PW).await);
    faults.heal();
    assert_dead(&s, &attacker).await;
    assert_eq!(
        s.login(&e, PW).await.status,
        StatusCode::UNAUTHORIZED,
        "the new password was written"
    );
    let fresh = Session::from(&s.login(&e, NEW_PW).await);
    let listed = s
        .call(Method::GET, "/v1/sessions", None, Some(&fresh.access))
        .await;
    assert_eq!(listed.body["sessions"].as_array().map(Vec::len), Some(1));
}

/// The change's revocation fails: 503, the password is unchanged; the retry (same request)
/// ends the other session and keeps the caller's.
pub async fn a_change_whose_revocation_fails_changes_nothing_until_the_retry(b: Backend) {
    let Some((s, faults)) = faulty(b).await else {
        return;
    };
    let e = email("change-outage");
    let caller = s.signed_up(&e).await;
    let attacker = Session::from(&s.login(&e, PW).await);

    faults.fail_revocations_after(0);
    assert_unavailable(&change(&s, &caller.access, PW, NEW_PW).await);
    faults.heal();
    let r = change(&s, &caller.access, PW, NEW_PW).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "the retry works: {r:?}");
    assert_dead(&s, &attacker).await;
    assert_eq!(s.me(&caller.access).await.status, StatusCode::OK);
}

/// A ban whose revocation fails (503 to the admin) leaves the session in the store; its
/// next refresh is refused with 403 `account_disabled` and ends it.
pub async fn a_session_that_outlived_a_ban_is_refused_at_refresh(b: Backend) {
    let Some((s, faults)) = faulty(b).await else {
        return;
    };
    let e = email("ban-outage");
    let reg = s.register(&e, PW).await;
    let uid = reg.body["user"]["id"].as_str().unwrap().to_owned();
    let x = Session::from(&s.login(&e, PW).await);

    faults.fail_revocations_after(0);
    let r = s
        .call(
            Method::POST,
            &format!("/v1/admin/users/{uid}/ban"),
            Some(json!({"reason": "outage"})),
            Some(ADMIN),
        )
        .await;
    assert_unavailable(&r);
    faults.heal();
    let r = s.refresh(&x.refresh).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, Some("account_disabled")),
        "{r:?}"
    );
    assert_eq!(s.me(&x.access).await.status, StatusCode::UNAUTHORIZED);
    let r = s.login(&e, PW).await;
    assert_eq!(r.code(), Some("account_disabled"));
}
