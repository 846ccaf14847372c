//! Logout, logout-all, revocation modes.

use reqwest::StatusCode;

use crate::common::{Backend, PW, Session, TestServer, email};

pub async fn logout_revokes_only_that_session(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("out");
    let a = s.signed_up(&e).await;
    let other = Session::from(&s.login(&e, PW).await);
    let a2 = Session::from(&s.refresh(&a.refresh).await);

    assert_eq!(s.logout(&a2.access).await.status, StatusCode::NO_CONTENT);
    for at in [&a.access, &a2.access] {
        let me = s.me(at).await;
        assert_eq!(
            (me.status, me.code()),
            (StatusCode::UNAUTHORIZED, Some("token_revoked"))
        );
    }
    assert_eq!(
        s.refresh(&a2.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        s.me(&other.access).await.status,
        StatusCode::OK,
        "other session untouched"
    );
    let listed = s
        .call(
            reqwest::Method::GET,
            "/v1/sessions",
            None,
            Some(&other.access),
        )
        .await;
    let ids: Vec<&str> = listed.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        vec![other.id.as_str()],
        "the index drops the logged-out session"
    );
    assert_eq!(s.refresh(&other.refresh).await.status, StatusCode::OK);
    let again = s.logout(&a2.access).await;
    assert_eq!(
        again.status,
        StatusCode::UNAUTHORIZED,
        "a revoked token cannot log out again"
    );
}

pub async fn logout_all_revokes_every_session_and_bumps_the_version(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let e = email("all");
    let a = s.signed_up(&e).await;
    let b2 = Session::from(&s.login(&e, PW).await);
    let c = Session::from(&s.login(&e, PW).await);
    let stranger = s.signed_up(&email("stranger")).await;

    assert_eq!(s.logout_all(&c.access).await.status, StatusCode::NO_CONTENT);
    for sess in [&a, &b2, &c] {
        let me = s.me(&sess.access).await;
        assert_eq!(
            (me.status, me.code()),
            (StatusCode::UNAUTHORIZED, Some("token_revoked"))
        );
        assert_eq!(
            s.refresh(&sess.refresh).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        s.me(&stranger.access).await.status,
        StatusCode::OK,
        "other users untouched"
    );

    let d = Session::from(&s.login(&e, PW).await);
    let me = s.me(&d.access).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(
        me.body["token_version"], 1,
        "version bumped and carried by new tokens"
    );
    let (_, claims) = super::signin::decode(&d.access);
    assert_eq!(claims["ver"], 1);
}

pub async fn denylist_mode_revokes_like_allowlist(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.revocation_mode = Some("denylist".into())).await
    else {
        return;
    };
    let e = email("deny");
    let a = s.signed_up(&e).await;
    let other = Session::from(&s.login(&e, PW).await);
    let a2 = Session::from(&s.refresh(&a.refresh).await);
    assert_eq!(s.me(&a2.access).await.status, StatusCode::OK);
    assert_eq!(s.logout(&a2.access).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.me(&a.access).await.code(), Some("token_revoked"));
    assert_eq!(s.me(&other.access).await.status, StatusCode::OK);
    assert_eq!(
        s.logout_all(&other.access).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(s.me(&other.access).await.code(), Some("token_revoked"));
}

/// The server skips the signature check of a token it has already verified (the
/// verified-token cache, `tessera_core::token::VerifiedTokens`); the revocation check must
/// still run on every request. Each token below is verified three times (so it is in the
/// cache) before it is revoked by one path, and must be refused at once afterwards, in both
/// revocation modes: one access token (`DELETE /v1/tokens/{jti}`), another device's session
/// (`DELETE /v1/sessions/{id}`), this session (logout) and every session (logout-all).
pub async fn a_token_cached_as_verified_is_refused_once_revoked(b: Backend) {
    use reqwest::Method;

    use super::signin::decode;

    for mode in ["allowlist", "denylist"] {
        let Some(s) = TestServer::start(b, |c| c.revocation_mode = Some(mode.into())).await else {
            return;
        };
        let e = email("cached");
        let first = s.signed_up(&e).await;
        let mut live = vec![first];
        for _ in 0..3 {
            live.push(Session::from(&s.login(&e, PW).await));
        }
        for t in &live {
            for _ in 0..3 {
                assert_eq!(s.me(&t.access).await.status, StatusCode::OK, "{mode}");
            }
        }
        let refused = |r: crate::common::http::Reply, what: &str| {
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::UNAUTHORIZED, Some("token_revoked")),
                "{mode}: {what}"
            );
        };

        // One access token, by its jti; then another device's session, ended from this one.
        let claim = |token: &str, name: &str| decode(token).1[name].as_str().unwrap().to_owned();
        let deletions = [
            (
                format!("/v1/tokens/{}", claim(&live[3].access, "jti")),
                3,
                3,
                "the revoked access token",
            ),
            (
                format!("/v1/sessions/{}", claim(&live[2].access, "sid")),
                0,
                2,
                "the ended session's token",
            ),
        ];
        for (path, by, victim, what) in deletions {
            let r = s
                .call(Method::DELETE, &path, None, Some(&live[by].access))
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{mode}: {what}");
            refused(s.me(&live[victim].access).await, what);
        }

        // This session.
        assert_eq!(
            s.logout(&live[1].access).await.status,
            StatusCode::NO_CONTENT
        );
        refused(s.me(&live[1].access).await, "the logged-out token");

        // Every session: the token version moves on.
        assert_eq!(s.me(&live[0].access).await.status, StatusCode::OK, "{mode}");
        assert_eq!(
            s.logout_all(&live[0].access).await.status,
            StatusCode::NO_CONTENT
        );
        refused(
            s.me(&live[0].access).await,
            "a token of a user signed out everywhere",
        );
    }
}
