//! RFC 7662 introspection, RFC 7009 revocation, RFC 8414 metadata: success, refusal and
//! abuse cases, plus an interop run with a third-party OAuth client library (Authlib).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::EncodingKey;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tessera_core::keys::KeyMaterial;
use tessera_core::refresh::{RefreshKey, RefreshToken};

use super::signin::decode;
use crate::common::http::Reply;
use crate::common::{Backend, TestServer, email};

const INTROSPECT: &str = "/oauth2/introspect";
const REVOKE: &str = "/oauth2/revoke";
const CLIENT: (&str, &str) = ("rs1", "secret-0123456789-abcdefghijklmnopq");

async fn server(b: Backend) -> Option<TestServer> {
    TestServer::start(b, |c| {
        c.introspection_clients = Some(format!(
            "{}:{},rs2:p+ss/w%rd:x&y-0123456789abcdefghijkl",
            CLIENT.0, CLIENT.1
        ))
    })
    .await
}

async fn introspect(s: &TestServer, token: &str) -> Reply {
    s.form(INTROSPECT, &[("token", token)], Some(CLIENT)).await
}

async fn revoke(s: &TestServer, token: &str, hint: Option<&str>) -> Reply {
    let mut fields = vec![("token", token)];
    if let Some(h) = hint {
        fields.push(("token_type_hint", h));
    }
    s.form(REVOKE, &fields, Some(CLIENT)).await
}

fn assert_inactive(r: &Reply, what: &str) {
    assert_eq!(r.status, StatusCode::OK, "{what}: {r:?}");
    assert_eq!(r.body, json!({"active": false}), "{what}");
}

/// Signs `claims` with the server's own key: a genuine token with chosen claims.
async fn sign_as_server(s: &TestServer, header: &Value, claims: &Value) -> String {
    let keys = s.signing_keys().await;
    let KeyMaterial::PrivateKeyPem(pem) = &keys[0].material else {
        panic!("EdDSA key expected")
    };
    let key = EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
    let msg = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig =
        jsonwebtoken::crypto::sign(msg.as_bytes(), &key, jsonwebtoken::Algorithm::EdDSA).unwrap();
    format!("{msg}.{sig}")
}

pub async fn oauth2_introspection_reports_live_tokens_and_everything_else_inactive(b: Backend) {
    let Some(s) = server(b).await else {
        return;
    };
    let a = s.signed_up(&email("intro")).await;
    let me = s.me(&a.access).await;
    let (header, claims) = decode(&a.access);

    let r = introspect(&s, &a.access).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.headers["cache-control"], "no-store");
    let body = &r.body;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["sub"], me.body["id"]);
    assert_eq!(body["sid"], a.id.as_str());
    assert_eq!(body["iss"], s.issuer.as_str());
    assert_eq!(body["aud"], "tessera");
    for k in ["client_id", "exp", "iat", "jti"] {
        assert_eq!(body[k], claims[k], "{k}");
    }
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());

    // Everything that would be refused answers exactly {"active":false}.
    assert_inactive(&introspect(&s, &a.refresh).await, "refresh token");
    assert_inactive(&introspect(&s, "not-a-token").await, "garbage");
    assert_inactive(&introspect(&s, &"x".repeat(5000)).await, "oversize");
    let mut tampered = claims.clone();
    tampered["sub"] = json!(uuid::Uuid::new_v4());
    let (h, _, sig) = {
        let mut it = a.access.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let forged = format!("{h}.{}.{sig}", B64.encode(tampered.to_string()));
    assert_inactive(&introspect(&s, &forged).await, "tampered payload");
    let mut bad_sig = a.access.clone();
    let last = bad_sig.pop().unwrap();
    bad_sig.push(if last == 'A' { 'B' } else { 'A' });
    assert_inactive(&introspect(&s, &bad_sig).await, "bad signature");
    let mut expired = claims.clone();
    expired["iat"] = json!(claims["iat"].as_i64().unwrap() - 3600);
    expired["exp"] = json!(claims["iat"].as_i64().unwrap() - 600);
    let expired = sign_as_server(&s, &header, &expired).await;
    assert_inactive(&introspect(&s, &expired).await, "expired");
    // Genuinely signed, but a jti the store never issued.
    let mut unknown_jti = claims.clone();
    unknown_jti["jti"] = json!(uuid::Uuid::new_v4());
    let unknown_jti = sign_as_server(&s, &header, &unknown_jti).await;
    assert_inactive(&introspect(&s, &unknown_jti).await, "unissued jti");
    // The token_type_hint changes nothing.
    let r = s
        .form(
            INTROSPECT,
            &[("token", &a.refresh), ("token_type_hint", "refresh_token")],
            Some(CLIENT),
        )
        .await;
    assert_inactive(&r, "refresh token with hint");

    // Revoked: after logout the token is inactive; another session's is not.
    let other = crate::common::Session::from(&s.login(&me.str("email"), crate::common::PW).await);
    assert_eq!(s.logout(&a.access).await.status, StatusCode::NO_CONTENT);
    assert_inactive(&introspect(&s, &a.access).await, "after logout");
    assert_eq!(introspect(&s, &other.access).await.body["active"], true);
    // After logout-all, every token of the user.
    assert_eq!(
        s.logout_all(&other.access).await.status,
        StatusCode::NO_CONTENT
    );
    assert_inactive(&introspect(&s, &other.access).await, "after logout-all");

    // Missing token: 400 invalid_request (the client is authenticated first).
    for fields in [&[][..], &[("token", "")][..]] {
        let r = s.form(INTROSPECT, fields, Some(CLIENT)).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{r:?}"
        );
        assert!(r.is_problem());
        assert_eq!(r.body["error"], "invalid_request", "{r:?}");
    }
}

pub async fn oauth2_endpoints_require_client_authentication(b: Backend) {
    let Some(s) = server(b).await else {
        return;
    };
    let a = s.signed_up(&email("client-auth")).await;
    let refused = |r: &Reply, what: &str| {
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{what}: {r:?}"
        );
        assert!(r.is_problem(), "{what}");
        // RFC 6749 §5.2, which OAuth client libraries read.
        assert_eq!(r.body["error"], "invalid_client", "{what}");
        assert_eq!(
            r.headers["www-authenticate"], "Basic realm=\"tessera\"",
            "{what}"
        );
    };
    for path in [INTROSPECT, REVOKE] {
        let token = [("token", a.access.as_str())];
        refused(&s.form(path, &token, None).await, "no client auth");
        refused(
            &s.form(path, &token, Some((CLIENT.0, "wrong-secret-0123")))
                .await,
            "wrong secret",
        );
        refused(
            &s.form(
                path,
                &token,
                Some((CLIENT.0, &CLIENT.1[..CLIENT.1.len() - 1])),
            )
            .await,
            "secret prefix",
        );
        refused(
            &s.form(path, &token, Some(("rs9", CLIENT.1))).await,
            "unknown client",
        );
        refused(
            &s.form(
                path,
                &[
                    ("token", &a.access),
                    ("client_id", CLIENT.0),
                    ("client_secret", "wrong-secret-0123"),
                ],
                None,
            )
            .await,
            "client_secret_post, wrong secret",
        );
        refused(
            &s.form(path, &[("token", &a.access), ("client_id", CLIENT.0)], None)
                .await,
            "client_id without secret",
        );
        refused(
            &s.http
                .raw(
                    Method::POST,
                    path,
                    "application/x-www-form-urlencoded",
                    format!("token={}", a.access).into_bytes(),
                )
                .await,
            "raw, no auth",
        );
        let r = s
            .form(
                path,
                &[("token", &a.access), ("client_secret", CLIENT.1)],
                Some(CLIENT),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "two methods at once: {r:?}"
        );
    }
    // Not a Basic header.
    let r = reqwest::Client::new()
        .post(format!("{}{INTROSPECT}", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .bearer_auth(&a.access)
        .body(format!("token={}", a.access))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Nothing was revoked by the refused calls.
    assert_eq!(s.me(&a.access).await.status, StatusCode::OK);

    // client_secret_post works.
    let r = s
        .form(
            INTROSPECT,
            &[
                ("token", &a.access),
                ("client_id", CLIENT.0),
                ("client_secret", CLIENT.1),
            ],
            None,
        )
        .await;
    assert_eq!(
        (r.status, &r.body["active"]),
        (StatusCode::OK, &json!(true)),
        "{r:?}"
    );
    // Basic credentials are form-urlencoded (RFC 6749 §2.3.1): a secret with `+`, `/`, `%`,
    // `:` and `&` in it.
    let r = s
        .form(
            INTROSPECT,
            &[("token", &a.access)],
            Some(("rs2", "p+ss/w%rd:x&y-0123456789abcdefghijkl")),
        )
        .await;
    assert_eq!(r.body["active"], true, "{r:?}");
    // Basic plus a matching client_id field is one method, not two.
    let r = s
        .form(
            INTROSPECT,
            &[("token", &a.access), ("client_id", CLIENT.0)],
            Some(CLIENT),
        )
        .await;
    assert_eq!(r.body["active"], true, "{r:?}");
    let r = s
        .form(
            INTROSPECT,
            &[("token", &a.access), ("client_id", "rs2")],
            Some(CLIENT),
        )
        .await;
    refused(&r, "client_id field naming another client");
    // A JSON body is not a form.
    let r = s
        .http
        .raw(
            Method::POST,
            INTROSPECT,
            "application/json",
            json!({"token": a.access}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{r:?}");
    // GET is not allowed.
    let r = s.call(Method::GET, INTROSPECT, None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);

    // No configured clients: every call is refused.
    let Some(closed) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let c = closed.signed_up(&email("no-clients")).await;
    for path in [INTROSPECT, REVOKE] {
        let r = closed
            .form(path, &[("token", &c.access)], Some(CLIENT))
            .await;
        refused(&r, "no clients configured");
        let r = closed
            .form(path, &[("token", &c.access)], Some(("", "")))
            .await;
        refused(&r, "empty credentials, no clients configured");
    }
}

pub async fn oauth2_revoking_an_access_token_stops_only_that_token(b: Backend) {
    let Some(s) = server(b).await else {
        return;
    };
    let e = email("revoke-at");
    let a = s.signed_up(&e).await;
    let other = crate::common::Session::from(&s.login(&e, crate::common::PW).await);
    let a2 = crate::common::Session::from(&s.refresh(&a.refresh).await);
    assert_eq!(a2.id, a.id);

    let r = revoke(&s, &a.access, Some("access_token")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.headers["cache-control"], "no-store");
    let me = s.me(&a.access).await;
    assert_eq!(
        (me.status, me.code()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );
    assert_inactive(&introspect(&s, &a.access).await, "revoked access token");
    // The session and the user's other sessions are untouched.
    assert_eq!(s.me(&a2.access).await.status, StatusCode::OK);
    assert_eq!(s.me(&other.access).await.status, StatusCode::OK);
    assert_eq!(s.refresh(&a2.refresh).await.status, StatusCode::OK);
    // Idempotent, and the user sees one token_revoked event for it.
    assert_eq!(revoke(&s, &a.access, None).await.status, StatusCode::OK);
    let events = s
        .call(Method::GET, "/v1/security-events", None, Some(&a2.access))
        .await;
    let jti = decode(&a.access).1["jti"].clone();
    let revoked: Vec<_> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "token_revoked")
        .collect();
    assert_eq!(revoked.len(), 1, "{events:?}");
    assert_eq!(revoked[0]["details"]["jti"], jti);
    assert_eq!(revoked[0]["details"]["via"], "oauth2_revoke");

    // The hint is only a hint: an access token sent as "refresh_token" is still revoked.
    let r = revoke(&s, &other.access, Some("refresh_token")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(s.me(&other.access).await.code(), Some("token_revoked"));
    assert_eq!(s.refresh(&other.refresh).await.status, StatusCode::OK);

    // An access token signed by the server's key with a jti of another token cannot
    // revoke that token unless it is the same (sub, sid, jti) — and then it is that token.
    let b2 = s.signed_up(&email("revoke-at-other")).await;
    let (header, mut claims) = decode(&a2.access);
    claims["jti"] = json!(uuid::Uuid::new_v4());
    let unissued = sign_as_server(&s, &header, &claims).await;
    assert_eq!(revoke(&s, &unissued, None).await.status, StatusCode::OK);
    assert_eq!(s.me(&a2.access).await.status, StatusCode::OK);
    assert_eq!(s.me(&b2.access).await.status, StatusCode::OK);
}

pub async fn oauth2_revoking_a_refresh_token_revokes_its_session(b: Backend) {
    let Some(s) = server(b).await else {
        return;
    };
    let e = email("revoke-rt");
    let a = s.signed_up(&e).await;
    let other = crate::common::Session::from(&s.login(&e, crate::common::PW).await);

    let r = revoke(&s, &a.refresh, Some("refresh_token")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let refresh = s.refresh(&a.refresh).await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED, "{refresh:?}");
    assert_eq!(s.me(&a.access).await.code(), Some("token_revoked"));
    assert_inactive(
        &introspect(&s, &a.access).await,
        "access token of the session",
    );
    assert_eq!(
        s.me(&other.access).await.status,
        StatusCode::OK,
        "other session lives"
    );
    // The user sees it among their security events.
    let events = s
        .call(
            Method::GET,
            "/v1/security-events",
            None,
            Some(&other.access),
        )
        .await;
    let revoked = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "session_revoked")
        .cloned()
        .expect("a session_revoked event");
    assert_eq!(revoked["session_id"], a.id.as_str());
    assert_eq!(revoked["details"]["via"], "oauth2_revoke");
    assert_eq!(revoke(&s, &a.refresh, None).await.status, StatusCode::OK);

    // Without a hint, and with the wrong one.
    for hint in [None, Some("access_token"), Some("something_else")] {
        let c = crate::common::Session::from(&s.login(&e, crate::common::PW).await);
        assert_eq!(revoke(&s, &c.refresh, hint).await.status, StatusCode::OK);
        assert_eq!(
            s.refresh(&c.refresh).await.status,
            StatusCode::UNAUTHORIZED,
            "{hint:?}"
        );
        assert_eq!(s.me(&c.access).await.code(), Some("token_revoked"));
    }

    // The previous refresh token (rotated away) is genuine too: it revokes the family.
    let d = crate::common::Session::from(&s.login(&e, crate::common::PW).await);
    let d2 = crate::common::Session::from(&s.refresh(&d.refresh).await);
    assert_eq!(revoke(&s, &d.refresh, None).await.status, StatusCode::OK);
    assert_eq!(s.me(&d2.access).await.code(), Some("token_revoked"));
    assert_eq!(
        s.refresh(&d2.refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.me(&other.access).await.status, StatusCode::OK);
}

/// A session bound to a fingerprint cookie is revoked by its refresh token alone: the
/// resource server or client calling `/oauth2/revoke` has no fingerprint cookie.
pub async fn oauth2_revoking_a_fingerprint_bound_refresh_token_revokes_its_session(b: Backend) {
    let Some(s) = TestServer::start(b, |c| {
        c.introspection_clients = Some(format!("{}:{}", CLIENT.0, CLIENT.1));
        c.fingerprint = Some("on".into());
    })
    .await
    else {
        return;
    };
    let e = email("revoke-fgp");
    s.register(&e, crate::common::PW).await;
    let login = s.login(&e, crate::common::PW).await;
    let (fgp, _) = login
        .cookies()
        .get("__Secure-Fgp")
        .cloned()
        .expect("fingerprint cookie");
    let access = login.str("access_token");
    let refresh = login.str("refresh_token");
    let bearer = format!("Bearer {access}");
    let cookie = format!("__Secure-Fgp={fgp}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("cookie", cookie.as_str()),
    ];
    let me = s.call_with(Method::GET, "/v1/me", None, &headers).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");

    let r = revoke(&s, &refresh, Some("refresh_token")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    // The access token is refused even with its cookie, and the refresh token is dead.
    let me = s.call_with(Method::GET, "/v1/me", None, &headers).await;
    assert_eq!(me.code(), Some("token_revoked"), "{me:?}");
    let body = json!({ "refresh_token": refresh });
    let again = s
        .call_with(Method::POST, "/v1/auth/refresh", Some(body), &headers[1..])
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{again:?}");
    assert_inactive(
        &introspect(&s, &access).await,
        "access token of the session",
    );
}

pub async fn oauth2_a_forged_refresh_token_revokes_nothing(b: Backend) {
    let Some(s) = server(b).await else {
        return;
    };
    let a = s.signed_up(&email("revoke-forged")).await;
    let (user, session) = RefreshToken::route(&a.refresh).unwrap();
    // The session's routing ids with a secret of our own: tagged with a key of our own, and
    // in the legacy form (no tag to check, so it reaches the store's hash comparison).
    let forged = [
        RefreshToken::generate(user, session, &RefreshKey::generate()).encode(),
        RefreshToken::generate_legacy(user, session).encode(),
    ];
    for forged in &forged {
        assert_ne!(*forged, a.refresh);
        for hint in [Some("refresh_token"), None] {
            let r = revoke(&s, forged, hint).await;
            assert_eq!(r.status, StatusCode::OK, "{r:?}");
        }
    }
    assert_eq!(
        s.me(&a.access).await.status,
        StatusCode::OK,
        "session alive"
    );
    // The genuine refresh token still rotates normally (the probe changed nothing).
    let next = s.refresh(&a.refresh).await;
    assert_eq!(next.status, StatusCode::OK, "{next:?}");
    assert_eq!(s.me(&next.str("access_token")).await.status, StatusCode::OK);
}

pub async fn oauth2_revocation_answers_200_for_unknown_tokens_and_400_without_one(b: Backend) {
    let Some(s) = server(b).await else {
        return;
    };
    let a = s.signed_up(&email("revoke-unknown")).await;
    let unknown_refresh = RefreshToken::generate(
        tessera_core::ids::UserId::new(),
        tessera_core::ids::SessionId::new(),
        &RefreshKey::generate(),
    )
    .encode();
    for token in [
        "unknown-0123456789abcdef",
        "tsr_not-base64!",
        "a.b.c",
        unknown_refresh.as_str(),
        &"x".repeat(5000),
    ] {
        for hint in [None, Some("access_token"), Some("refresh_token")] {
            let r = revoke(&s, token, hint).await;
            assert_eq!(r.status, StatusCode::OK, "{token:.20} {hint:?}: {r:?}");
        }
    }
    assert_eq!(s.me(&a.access).await.status, StatusCode::OK);
    for fields in [
        &[][..],
        &[("token", "")][..],
        &[("token_type_hint", "access_token")][..],
    ] {
        let r = s.form(REVOKE, fields, Some(CLIENT)).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, Some("invalid_request")),
            "{fields:?}: {r:?}"
        );
    }
    let r = s
        .form(
            REVOKE,
            &[("token", &a.access), ("token", "x")],
            Some(CLIENT),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "repeated parameter"
    );
    let r = s
        .http
        .raw(
            Method::POST,
            REVOKE,
            "application/x-www-form-urlencoded",
            b"token=%zz".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "bad escape: {r:?}");
    assert_eq!(s.me(&a.access).await.status, StatusCode::OK);
}

pub async fn oauth2_metadata_describes_the_endpoints(b: Backend) {
    let Some(s) =
        TestServer::start(b, |c| c.issuer = Some("https://auth.example.test".into())).await
    else {
        return;
    };
    let r = s
        .call(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let md = &r.body;
    assert_eq!(md["issuer"], "https://auth.example.test");
    assert_eq!(
        md["jwks_uri"],
        "https://auth.example.test/.well-known/jwks.json"
    );
    assert_eq!(
        md["introspection_endpoint"],
        "https://auth.example.test/oauth2/introspect"
    );
    assert_eq!(
        md["revocation_endpoint"],
        "https://auth.example.test/oauth2/revoke"
    );
    let methods = json!(["client_secret_basic", "client_secret_post"]);
    assert_eq!(md["introspection_endpoint_auth_methods_supported"], methods);
    assert_eq!(md["revocation_endpoint_auth_methods_supported"], methods);
    // No authorization or token endpoint: nothing is claimed for them (an omitted
    // grant_types_supported would mean authorization_code and implicit).
    assert_eq!(md["response_types_supported"], json!([]));
    assert_eq!(md["grant_types_supported"], json!([]));
    assert!(md.get("authorization_endpoint").is_none());
    assert!(md.get("token_endpoint").is_none());
}

/// With the state store down, neither endpoint claims anything: 503, never a verdict. Even
/// in fail-open mode, introspection does not report a token active it cannot check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_store_outage_answers_503_never_a_verdict() {
    if !tessera_testkit::redis_available() {
        return;
    }
    let dir = tessera_testkit::TempDir::new("api-oauth2-outage");
    let mut redis =
        tessera_testkit::RedisServer::start(tessera_testkit::free_port(), dir.path(), &[]);
    let url = redis.url();
    let Some(s) = TestServer::start(Backend::MemorySqlite, |c| {
        c.redis_url = Some(url);
        c.fail_mode = Some("open".into());
        c.introspection_clients = Some(format!("{}:{}", CLIENT.0, CLIENT.1));
    })
    .await
    else {
        return;
    };
    let a = s.signed_up(&email("oauth2-outage")).await;
    assert_eq!(introspect(&s, &a.access).await.body["active"], true);
    redis.stop();
    for r in [
        introspect(&s, &a.access).await,
        revoke(&s, &a.access, None).await,
        revoke(&s, &a.refresh, Some("refresh_token")).await,
    ] {
        assert_eq!(
            (r.status, r.code()),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Some("state_store_unavailable")
            ),
            "{r:?}"
        );
        assert!(r.is_problem());
    }
    // What needs no store still answers: garbage is inactive, unknown tokens are "revoked".
    assert_inactive(&introspect(&s, "garbage").await, "garbage during outage");
    assert_eq!(revoke(&s, "garbage", None).await.status, StatusCode::OK);
}

/// Interop: Authlib's OAuth 2.0 client discovers the endpoints from the metadata, then
/// introspects and revokes (client_secret_basic and client_secret_post) against the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_authlib_client_introspects_and_revokes() {
    let has_authlib = std::process::Command::new("python3")
        .args(["-c", "import authlib, requests"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_authlib {
        tessera_testkit::services::missing("python3 with Authlib");
        return;
    }
    let Some(s) = server(Backend::MemorySqlite).await else {
        return;
    };
    let e = email("authlib");
    let a = s.signed_up(&e).await;
    let b = crate::common::Session::from(&s.login(&e, crate::common::PW).await);
    let sub = s.me(&a.access).await.body["id"].clone();

    let script = r#"
import json, sys
import requests
from authlib.integrations.requests_client import OAuth2Session

base, cid, secret, access_a, access_b, refresh_b = sys.argv[1:7]
md = requests.get(base + "/.well-known/oauth-authorization-server", timeout=10).json()
basic = OAuth2Session(cid, secret)
post = OAuth2Session(cid, secret, token_endpoint_auth_method="client_secret_post",
                     revocation_endpoint_auth_method="client_secret_post")
wrong = OAuth2Session(cid, "wrong-secret-0123")
out = {}

def intro(client, token, hint=None):
    r = client.introspect_token(md["introspection_endpoint"], token=token, token_type_hint=hint)
    return {"status": r.status_code, "body": r.json()}

def revoke(client, token, hint):
    r = client.revoke_token(md["revocation_endpoint"], token=token, token_type_hint=hint)
    return {"status": r.status_code}

out["active_basic"] = intro(basic, access_a, "access_token")
out["active_post"] = intro(post, access_a)
out["wrong_secret"] = intro(wrong, access_a)
out["revoke_access"] = revoke(basic, access_a, "access_token")
out["after_revoke"] = intro(basic, access_a)
out["b_still_active"] = intro(post, access_b)
out["revoke_refresh"] = revoke(post, refresh_b, "refresh_token")
out["b_after_revoke"] = intro(basic, access_b)
out["revoke_unknown"] = revoke(basic, "unknown-token", None)
print(json.dumps(out))
"#;
    let base = s.base.clone();
    let args = [
        base,
        CLIENT.0.to_owned(),
        CLIENT.1.to_owned(),
        a.access.clone(),
        b.access.clone(),
        b.refresh.clone(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "authlib script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();

    for k in ["active_basic", "active_post"] {
        assert_eq!(r[k]["status"], 200, "{k}: {r}");
        assert_eq!(r[k]["body"]["active"], true, "{k}: {r}");
        assert_eq!(r[k]["body"]["sub"], sub, "{k}: {r}");
    }
    assert_eq!(r["wrong_secret"]["status"], 401, "{r}");
    assert_eq!(r["wrong_secret"]["body"]["code"], "invalid_client", "{r}");
    assert_eq!(r["revoke_access"]["status"], 200, "{r}");
    assert_eq!(r["after_revoke"]["body"], json!({"active": false}), "{r}");
    assert_eq!(r["b_still_active"]["body"]["active"], true, "{r}");
    assert_eq!(r["revoke_refresh"]["status"], 200, "{r}");
    assert_eq!(r["b_after_revoke"]["body"], json!({"active": false}), "{r}");
    assert_eq!(r["revoke_unknown"]["status"], 200, "{r}");

    // The server agrees.
    assert_eq!(s.me(&a.access).await.code(), Some("token_revoked"));
    assert_eq!(s.me(&b.access).await.code(), Some("token_revoked"));
    assert_eq!(s.refresh(&b.refresh).await.status, StatusCode::UNAUTHORIZED);
}
