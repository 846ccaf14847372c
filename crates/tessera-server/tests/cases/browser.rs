//! Browser clients: fingerprint binding and the cookie transport with its CSRF check.

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::signin::decode;
use crate::common::http::Reply;
use crate::common::{Backend, PW, TestServer, email};

pub async fn fingerprint_binding_refuses_a_stolen_token_without_its_cookie(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.fingerprint = Some("on".into())).await else {
        return;
    };
    let e = email("fgp");
    s.register(&e, PW).await;
    let r = s.login(&e, PW).await;
    let cookies = r.cookies();
    let (fgp, attrs) = cookies
        .get("__Secure-Fgp")
        .cloned()
        .expect("fingerprint cookie");
    for a in ["httponly", "secure", "samesite=strict", "path=/"] {
        assert!(attrs.contains(a), "{a} in {attrs}");
    }
    let access = r.str("access_token");
    let refresh = r.str("refresh_token");
    let expected =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(fgp.as_bytes()));
    assert_eq!(
        decode(&access).1["fgp"],
        expected.as_str(),
        "fgp = SHA-256 of the cookie"
    );

    let with = |cookie: &str| format!("__Secure-Fgp={cookie}");
    let bearer = format!("Bearer {access}");
    let stolen = s.call(Method::GET, "/v1/me", None, Some(&access)).await;
    assert_eq!(
        (stolen.status, stolen.code()),
        (StatusCode::UNAUTHORIZED, Some("fingerprint_mismatch"))
    );
    let forged = s
        .call_with(
            Method::GET,
            "/v1/me",
            None,
            &[("authorization", &bearer), ("cookie", &with("forged"))],
        )
        .await;
    assert_eq!(forged.code(), Some("fingerprint_mismatch"));
    let ok = s
        .call_with(
            Method::GET,
            "/v1/me",
            None,
            &[("authorization", &bearer), ("cookie", &with(&fgp))],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);

    // A refresh token stolen without the cookie rotates nothing.
    let r = s.refresh(&refresh).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token"))
    );
    let r = s
        .call_with(
            Method::POST,
            "/v1/auth/refresh",
            Some(json!({"refresh_token": refresh})),
            &[("cookie", &with(&fgp))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let next = r.str("access_token");
    assert_eq!(
        decode(&next).1["fgp"],
        expected.as_str(),
        "binding carried over"
    );
    let bearer = format!("Bearer {next}");
    let ok = s
        .call_with(
            Method::GET,
            "/v1/me",
            None,
            &[("authorization", &bearer), ("cookie", &with(&fgp))],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
}

pub async fn cookie_transport_works_with_cookies_alone_and_checks_csrf(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.token_transport = Some("cookie".into())).await else {
        return;
    };
    let e = email("ck");
    s.register(&e, PW).await;
    let r = s.login(&e, PW).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.get("access_token").is_none() && r.body.get("refresh_token").is_none(),
        "{}",
        r.body
    );
    assert!(r.body.get("session_id").is_some());
    let c = r.cookies();
    let (at, at_attrs) = c.get("__Host-tessera_at").cloned().unwrap();
    let (rt, rt_attrs) = c.get("__Secure-tessera_rt").cloned().unwrap();
    let (csrf, csrf_attrs) = c.get("__Host-tessera_csrf").cloned().unwrap();
    for a in ["httponly", "secure", "samesite=lax", "path=/", "max-age="] {
        assert!(at_attrs.contains(a), "access cookie {a}: {at_attrs}");
    }
    for a in ["httponly", "secure", "samesite=strict", "path=/v1/auth"] {
        assert!(rt_attrs.contains(a), "refresh cookie {a}: {rt_attrs}");
    }
    assert!(!csrf_attrs.contains("httponly"), "{csrf_attrs}");
    for a in ["secure", "samesite=strict", "path=/"] {
        assert!(csrf_attrs.contains(a), "csrf cookie {a}: {csrf_attrs}");
    }
    assert!(!csrf_attrs.contains("domain="), "{csrf_attrs}");

    let jar = format!("__Host-tessera_at={at}; __Host-tessera_csrf={csrf}");
    let me = s
        .call_with(Method::GET, "/v1/me", None, &[("cookie", &jar)])
        .await;
    assert_eq!(
        (me.status, me.body["email"].as_str()),
        (StatusCode::OK, Some(e.as_str()))
    );

    let rjar = format!("__Secure-tessera_rt={rt}; __Host-tessera_csrf={csrf}");
    let no_csrf = s
        .call_with(
            Method::POST,
            "/v1/auth/refresh",
            None,
            &[("cookie", &rjar), ("content-type", "application/json")],
        )
        .await;
    assert_eq!(
        (no_csrf.status, no_csrf.code()),
        (StatusCode::FORBIDDEN, Some("csrf_failed"))
    );
    let rotated = s
        .call_with(
            Method::POST,
            "/v1/auth/refresh",
            None,
            &[
                ("cookie", &rjar),
                ("x-csrf-token", &csrf),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    let c2 = rotated.cookies();
    let rt2 = &c2.get("__Secure-tessera_rt").unwrap().0;
    assert_ne!(rt2, &rt, "refresh from the cookie rotates it");
    let at2 = c2.get("__Host-tessera_at").unwrap().0.clone();
    let csrf2 = c2.get("__Host-tessera_csrf").unwrap().0.clone();

    let jar = format!("__Host-tessera_at={at2}; __Host-tessera_csrf={csrf2}");
    let r = s
        .call_with(Method::POST, "/v1/auth/logout", None, &[("cookie", &jar)])
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, Some("csrf_failed")),
        "cookie POST without CSRF"
    );
    let r = s
        .call_with(
            Method::POST,
            "/v1/auth/logout",
            None,
            &[("cookie", &jar), ("x-csrf-token", "wrong")],
        )
        .await;
    assert_eq!(r.code(), Some("csrf_failed"));
    let r = s
        .call_with(
            Method::POST,
            "/v1/auth/logout",
            None,
            &[("cookie", &jar), ("x-csrf-token", &csrf2)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let cleared = r.cookies();
    for name in [
        "__Host-tessera_at",
        "__Secure-tessera_rt",
        "__Host-tessera_csrf",
    ] {
        assert!(
            cleared
                .get(name)
                .is_some_and(|(v, a)| v.is_empty() && a.contains("max-age=0")),
            "{name}"
        );
    }
    let me = s
        .call_with(Method::GET, "/v1/me", None, &[("cookie", &jar)])
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);

    // A bearer header needs no CSRF token, even in cookie mode.
    let Some(s) = TestServer::start(b, |c| c.token_transport = Some("both".into())).await else {
        return;
    };
    let e = email("both");
    s.register(&e, PW).await;
    let r = s.login(&e, PW).await;
    assert!(r.body.get("access_token").is_some() && r.cookies().contains_key("__Host-tessera_at"));
    assert_eq!(
        s.logout(&r.str("access_token")).await.status,
        StatusCode::NO_CONTENT
    );
}

/// A browser whose access token no longer authenticates (its cookie expired with the token)
/// still signs out: the refresh cookie, which `Path=/v1/auth` sends to the logout, with the
/// CSRF header of its session, revokes the session. Without the header, or with another
/// session's value, nothing is revoked — and every refusal clears the token cookies all the
/// same, so no refresh cookie is left behind for the next person at that browser.
pub async fn a_browser_whose_access_token_expired_still_signs_out(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.token_transport = Some("cookie".into())).await else {
        return;
    };
    let signed_in = |tag: &'static str| {
        let s = &s;
        async move {
            let e = email(tag);
            s.register(&e, PW).await;
            let c = s.login(&e, PW).await.cookies();
            let rt = c.get("__Secure-tessera_rt").unwrap().0.clone();
            let csrf = c.get("__Host-tessera_csrf").unwrap().0.clone();
            (rt, csrf)
        }
    };
    let (rt, csrf) = signed_in("expired-at").await;
    let (_, other_csrf) = signed_in("expired-at-other").await;
    let logout = |csrf_cookie: String, header: Option<String>| {
        let s = &s;
        let rt = rt.clone();
        async move {
            let jar = format!("__Secure-tessera_rt={rt}; __Host-tessera_csrf={csrf_cookie}");
            let mut headers = vec![("cookie", jar)];
            if let Some(h) = header {
                headers.push(("x-csrf-token", h));
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.call_with(Method::POST, "/v1/auth/logout", None, &headers)
                .await
        }
    };
    let cleared = |r: &crate::common::http::Reply| {
        let c = r.cookies();
        [
            "__Host-tessera_at",
            "__Secure-tessera_rt",
            "__Host-tessera_csrf",
        ]
        .iter()
        .all(|name| {
            c.get(*name)
                .is_some_and(|(v, a)| v.is_empty() && a.contains("max-age=0"))
        })
    };
    let still_live = || async {
        let r = s
            .call_with(
                Method::POST,
                "/v1/auth/refresh",
                Some(json!({ "refresh_token": rt })),
                &[],
            )
            .await;
        r.status
    };
    // No CSRF header (what a cross-site form sends): refused, and the cookies are left
    // alone, so another site cannot sign the browser out. Another session's CSRF value,
    // echoed (only a script of our origin can): refused, cookies cleared. Nothing revoked.
    for (cookie, header, clears) in [
        (csrf.clone(), None, false),
        (other_csrf.clone(), Some(other_csrf.clone()), true),
    ] {
        let r = logout(cookie, header).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some("missing_token")),
            "{r:?}"
        );
        assert_eq!(cleared(&r), clears, "{r:?}");
        if !clears {
            assert!(r.cookies().is_empty(), "{r:?}");
        }
    }
    // The session lives (this rotates it: the cookie's token is now the previous one, which
    // still proves the session, as for RFC 7009).
    assert_eq!(still_live().await, StatusCode::OK, "nothing was revoked");
    // With its own CSRF value: signed out.
    let r = logout(csrf.clone(), Some(csrf.clone())).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert!(cleared(&r), "{r:?}");
    assert_eq!(still_live().await, StatusCode::UNAUTHORIZED, "revoked");
}

/// The CSRF cookie is bound to its session: a value from another session (the attacker's
/// own, or planted by a sibling subdomain) is refused even when header and cookie agree; a
/// refresh keeps the session's value; a missing header is refused; a bearer request needs
/// none.
pub async fn csrf_values_are_bound_to_their_session(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.token_transport = Some("both".into())).await else {
        return;
    };
    let victim = email("csrf-victim");
    let attacker = email("csrf-attacker");
    s.register(&victim, PW).await;
    s.register(&attacker, PW).await;
    let v = s.login(&victim, PW).await;
    let v2 = s.login(&victim, PW).await;
    let a = s.login(&attacker, PW).await;
    let cookie = |r: &Reply, name: &str| r.cookies().get(name).unwrap().0.clone();
    let (v_at, v_rt, v_csrf) = (
        cookie(&v, "__Host-tessera_at"),
        cookie(&v, "__Secure-tessera_rt"),
        cookie(&v, "__Host-tessera_csrf"),
    );
    let a_csrf = cookie(&a, "__Host-tessera_csrf");
    let v2_csrf = cookie(&v2, "__Host-tessera_csrf");
    assert_ne!(v_csrf, a_csrf);
    assert_ne!(v_csrf, v2_csrf, "one value per session, not per user");

    // Header and cookie agree, but the value belongs to another session: refused.
    for other in [&a_csrf, &v2_csrf] {
        let jar = format!("__Host-tessera_at={v_at}; __Host-tessera_csrf={other}");
        let r = s
            .call_with(
                Method::POST,
                "/v1/auth/logout",
                None,
                &[("cookie", &jar), ("x-csrf-token", other)],
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, Some("csrf_failed"))
        );
        let rjar = format!("__Secure-tessera_rt={v_rt}; __Host-tessera_csrf={other}");
        let r = s
            .call_with(
                Method::POST,
                "/v1/auth/refresh",
                None,
                &[
                    ("cookie", &rjar),
                    ("x-csrf-token", other),
                    ("content-type", "application/json"),
                ],
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::FORBIDDEN, Some("csrf_failed"))
        );
    }
    // The session's own value in the header but not in the cookie: refused.
    let jar = format!("__Host-tessera_at={v_at}");
    let r = s
        .call_with(
            Method::DELETE,
            &format!("/v1/sessions/{}", v2.str("session_id")),
            None,
            &[("cookie", &jar), ("x-csrf-token", &v_csrf)],
        )
        .await;
    assert_eq!(r.code(), Some("csrf_failed"));

    // The victim's session is intact: its own value works, and a refresh keeps it.
    let rjar = format!("__Secure-tessera_rt={v_rt}; __Host-tessera_csrf={v_csrf}");
    let rotated = s
        .call_with(
            Method::POST,
            "/v1/auth/refresh",
            None,
            &[
                ("cookie", &rjar),
                ("x-csrf-token", &v_csrf),
                ("content-type", "application/json"),
            ],
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    assert_eq!(cookie(&rotated, "__Host-tessera_csrf"), v_csrf);
    let at = cookie(&rotated, "__Host-tessera_at");
    let jar = format!("__Host-tessera_at={at}; __Host-tessera_csrf={v_csrf}");
    let r = s
        .call_with(
            Method::DELETE,
            &format!("/v1/sessions/{}", v2.str("session_id")),
            None,
            &[("cookie", &jar), ("x-csrf-token", &v_csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");

    // A bearer request needs no CSRF header, even with a foreign CSRF cookie around.
    let jar = format!("__Host-tessera_csrf={a_csrf}");
    let r = s
        .call_with(
            Method::POST,
            "/v1/auth/logout",
            None,
            &[
                ("cookie", &jar),
                (
                    "authorization",
                    &format!("Bearer {}", rotated.str("access_token")),
                ),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
}

/// A sibling subdomain may set `__Host%2Dtessera_at` (a browser checks the `__Host-` rules
/// on the raw name) or a second cookie of a `__Secure-` name: a cookie is read by its name
/// exactly as sent, never percent-decoded, and a name sent twice counts as absent. So a
/// planted access token, CSRF value or refresh token is never taken for the browser's own.
pub async fn cookies_planted_under_an_encoded_or_repeated_name_are_not_read(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.token_transport = Some("cookie".into())).await else {
        return;
    };
    let e = email("planted");
    s.register(&e, PW).await;
    let c = s.login(&e, PW).await.cookies();
    let at = c.get("__Host-tessera_at").unwrap().0.clone();
    let rt = c.get("__Secure-tessera_rt").unwrap().0.clone();
    let csrf = c.get("__Host-tessera_csrf").unwrap().0.clone();
    let call = |method: Method, path: &'static str, jar: String, csrf_header: bool| {
        let s = &s;
        let csrf = csrf.clone();
        async move {
            let mut headers = vec![("cookie", jar)];
            if csrf_header {
                headers.push(("x-csrf-token", csrf));
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            s.call_with(method, path, None, &headers).await
        }
    };
    // The real names work.
    let me = call(
        Method::GET,
        "/v1/me",
        format!("__Host-tessera_at={at}"),
        false,
    )
    .await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    // An encoded name is another cookie; a repeated name is nobody's.
    for jar in [
        format!("__Host%2Dtessera_at={at}"),
        format!("__Host%2dtessera_at={at}"),
        format!("__Host-tessera_at={at}; __Host-tessera_at={at}"),
    ] {
        let r = call(Method::GET, "/v1/me", jar.clone(), false).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some("missing_token")),
            "{jar}: {r:?}"
        );
    }
    // A CSRF cookie under an encoded name does not satisfy the header.
    let r = call(
        Method::POST,
        "/v1/auth/logout-all",
        format!("__Host-tessera_at={at}; __Host%2Dtessera_csrf={csrf}"),
        true,
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, Some("csrf_failed")),
        "{r:?}"
    );
    // A second refresh cookie (a sibling's `Domain` cookie beside ours) is not chosen
    // between: nothing is rotated.
    let r = call(
        Method::POST,
        "/v1/auth/refresh",
        format!(
            "__Secure-tessera_rt=planted; __Secure-tessera_rt={rt}; __Host-tessera_csrf={csrf}"
        ),
        true,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
    // The browser's own cookies still work, the refresh token unspent.
    let r = call(
        Method::POST,
        "/v1/auth/refresh",
        format!("__Secure-tessera_rt={rt}; __Host-tessera_csrf={csrf}"),
        true,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}
