//! A second factor that cannot be evaluated fails closed; an operator resets a second factor;
//! secrets are never cached.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::json;
use tessera_server::accounts::Database;

use super::mfa::{challenge, enrolled, mfa};
use super::signin::decode;
use crate::common::http::{Http, Reply};
use crate::common::totp::{fresh_step, totp_now};
use crate::common::{Backend, PW, TestServer};

const ADMIN: &str = "admin-secret-for-tests-0123456789";
/// A key id no server holds.
const OTHER_KEY: &str = "AAAAAAAAAAAAAAAA";

/// Runs `statement` on the server's database with `args` bound as `$1`, `$2`, ….
async fn sql(s: &TestServer, statement: &'static str, args: &[&str]) {
    let db = Database::connect(&SecretString::from(s.database_url.clone()))
        .await
        .unwrap();
    let mut q = sqlx::query(statement);
    for a in args {
        q = q.bind(*a);
    }
    q.execute(db.pool()).await.unwrap();
}

/// One text column of one row.
async fn sql_text(s: &TestServer, statement: &'static str, user: &str) -> String {
    use sqlx::Row;
    let db = Database::connect(&SecretString::from(s.database_url.clone()))
        .await
        .unwrap();
    let row = sqlx::query(statement)
        .bind(user)
        .fetch_one(db.pool())
        .await
        .unwrap();
    row.try_get::<String, _>(0).unwrap()
}

fn refused(r: &Reply, what: &str) {
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("mfa_unavailable")),
        "{what}: {r:?}"
    );
    assert!(r.body.get("access_token").is_none(), "{what}: no tokens");
    assert!(r.body.get("refresh_token").is_none(), "{what}: no tokens");
}

fn uid_of(access: &str) -> String {
    decode(access).1["sub"].as_str().unwrap().to_owned()
}

async fn event_types(h: &Http, access: &str) -> Vec<serde_json::Value> {
    let r = h
        .call(Method::GET, "/v1/security-events", None, Some(access))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["events"].as_array().unwrap().clone()
}

/// Every outbox message addressed to `to`.
fn outbox(s: &TestServer, to: &str) -> Vec<String> {
    let dir = s.data_dir.path().join("outbox");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter(|m| m.contains(&format!("To: {to}\r\n")))
        .collect()
}

pub async fn an_unreadable_second_factor_refuses_the_sign_in_and_never_skips_it(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.admin_token = Some(ADMIN.into())).await else {
        return;
    };
    let (e, sess, secret, codes) = enrolled(&s, "unreadable").await;
    let uid = uid_of(&sess.access);
    let pending = challenge(&s, &e, json!({}), None).await;
    assert_eq!(pending.body["mfa_required"], true, "{pending:?}");
    let id = pending.str("challenge_id");
    let sealed = sql_text(
        &s,
        "SELECT secret_enc FROM mfa_totp WHERE user_id = $1",
        &uid,
    )
    .await;
    let key_id = sql_text(&s, "SELECT key_id FROM mfa_totp WHERE user_id = $1", &uid).await;
    assert_eq!(key_id.len(), 16, "the key id is stored beside the secret");
    let codes_key = sql_text(
        &s,
        "SELECT key_id FROM mfa_recovery_codes WHERE user_id = $1 LIMIT 1",
        &uid,
    )
    .await;
    assert_eq!(codes_key, key_id, "and beside each recovery code");

    // A corrupt ciphertext, while the server runs: the sign-in is refused, not let through.
    sql(
        &s,
        "UPDATE mfa_totp SET secret_enc = $1 WHERE user_id = $2",
        &[&"A".repeat(64), &uid],
    )
    .await;
    refused(
        &challenge(&s, &e, json!({}), None).await,
        "password sign-in",
    );
    fresh_step().await;
    refused(
        &mfa(&s, &id, &totp_now(&secret, 0)).await,
        "right TOTP code",
    );
    refused(&mfa(&s, &id, &codes[0]).await, "recovery code");
    assert_eq!(
        s.me(&sess.access).await.body["mfa_enabled"],
        true,
        "the factor still counts as enrolled"
    );

    // Sealed with another data key (another instance, a regenerated keys.json): refused too.
    sql(
        &s,
        "UPDATE mfa_totp SET secret_enc = $1, key_id = $2 WHERE user_id = $3",
        &[&sealed, OTHER_KEY, &uid],
    )
    .await;
    refused(
        &challenge(&s, &e, json!({}), None).await,
        "TOTP under another key",
    );

    // Recovery codes keyed with another key are refused, not accepted, and not consumed.
    sql(
        &s,
        "UPDATE mfa_totp SET key_id = $1 WHERE user_id = $2",
        &[&key_id, &uid],
    )
    .await;
    sql(
        &s,
        "UPDATE mfa_recovery_codes SET key_id = $1 WHERE user_id = $2",
        &[OTHER_KEY, &uid],
    )
    .await;
    let ch = challenge(&s, &e, json!({}), None).await;
    assert_eq!(ch.body["mfa_required"], true, "{ch:?}");
    let id = ch.str("challenge_id");
    refused(
        &mfa(&s, &id, &codes[0]).await,
        "recovery code under another key",
    );
    sql(
        &s,
        "UPDATE mfa_recovery_codes SET key_id = $1 WHERE user_id = $2",
        &[&key_id, &uid],
    )
    .await;
    let ok = mfa(&s, &id, &codes[0]).await;
    assert_eq!(ok.status, StatusCode::OK, "the code was kept: {ok:?}");

    // The way out when the key is gone for good: an operator resets the factor.
    sql(
        &s,
        "UPDATE mfa_totp SET key_id = $1 WHERE user_id = $2",
        &[OTHER_KEY, &uid],
    )
    .await;
    let reset = s
        .call(
            Method::DELETE,
            &format!("/v1/admin/users/{uid}/mfa"),
            None,
            Some(ADMIN),
        )
        .await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{reset:?}");
    let r = s.login(&e, PW).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(r.body.get("access_token").is_some(), "{r:?}");
}

pub async fn an_operator_resets_a_second_factor_and_the_user_is_told(b: Backend) {
    let Some(s) = TestServer::start(b, |c| c.admin_token = Some(ADMIN.into())).await else {
        return;
    };
    let (e, sess, secret, _codes) = enrolled(&s, "reset").await;
    let uid = uid_of(&sess.access);
    let id = challenge(&s, &e, json!({"trust_device": true}), None)
        .await
        .str("challenge_id");
    fresh_step().await;
    let done = mfa(&s, &id, &totp_now(&secret, 0)).await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    let (td, _) = done.cookies().get("__Host-tessera_td").unwrap().clone();
    let devices = |access: String| {
        let s = &s;
        async move {
            s.call(Method::GET, "/v1/devices/trusted", None, Some(&access))
                .await
                .body["devices"]
                .as_array()
                .map(Vec::len)
        }
    };
    assert_eq!(devices(sess.access.clone()).await, Some(1));

    let path = format!("/v1/admin/users/{uid}/mfa");
    for token in [None, Some(sess.access.as_str())] {
        let r = s.call(Method::DELETE, &path, None, token).await;
        assert_eq!(r.code(), Some("admin_required"), "{r:?}");
    }
    for unknown in [uuid::Uuid::now_v7().to_string(), "nope".to_owned()] {
        let r = s
            .call(
                Method::DELETE,
                &format!("/v1/admin/users/{unknown}/mfa"),
                None,
                Some(ADMIN),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::NOT_FOUND, Some("user_not_found"))
        );
    }
    assert!(outbox(&s, &e).is_empty());

    let r = s.call(Method::DELETE, &path, None, Some(ADMIN)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(s.me(&sess.access).await.body["mfa_enabled"], false);
    assert_eq!(devices(sess.access.clone()).await, Some(0));
    // Password alone now, with or without the old trust cookie.
    let cookie = format!("__Host-tessera_td={td}");
    let again = challenge(&s, &e, json!({}), Some(&cookie)).await;
    assert!(again.body.get("access_token").is_some(), "{again:?}");
    let events = event_types(&s, &sess.access).await;
    let reset = events
        .iter()
        .find(|ev| ev["type"] == "mfa_reset_by_admin")
        .unwrap_or_else(|| panic!("no mfa_reset_by_admin in {events:?}"));
    assert_eq!(reset["details"]["notice"], "sent", "{reset}");
    assert_eq!(reset["details"]["trusted_devices_removed"], 1, "{reset}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while outbox(&s, &e).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let mails = outbox(&s, &e);
    assert_eq!(mails.len(), 1, "one notice");
    assert!(
        mails[0].contains("Subject: Your two-step sign-in was reset"),
        "{}",
        mails[0]
    );

    // Idempotent: nothing enrolled, nothing happens (204, no second mail or event).
    let r = s.call(Method::DELETE, &path, None, Some(ADMIN)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{r:?}");
    assert_eq!(outbox(&s, &e).len(), 1);
    let count = |evs: &[serde_json::Value]| {
        evs.iter()
            .filter(|ev| ev["type"] == "mfa_reset_by_admin")
            .count()
    };
    assert_eq!(count(&event_types(&s, &sess.access).await), 1);
    // And the user may enrol again.
    let en = s
        .call(
            Method::POST,
            "/v1/mfa/totp",
            Some(serde_json::json!({"password": crate::common::PW})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(en.status, StatusCode::OK, "{en:?}");
}

pub async fn totp_secrets_and_recovery_codes_are_never_cached(b: Backend) {
    let Some(s) = TestServer::start(b, |_| {}).await else {
        return;
    };
    let sess = s.signed_up(&crate::common::email("nostore")).await;
    let en = s
        .call(
            Method::POST,
            "/v1/mfa/totp",
            Some(serde_json::json!({"password": crate::common::PW})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(en.status, StatusCode::OK, "{en:?}");
    let no_store = |r: &Reply| {
        assert_eq!(
            r.headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{r:?}"
        );
        assert_eq!(
            r.headers.get("pragma").and_then(|v| v.to_str().ok()),
            Some("no-cache")
        );
    };
    no_store(&en);
    fresh_step().await;
    let conf = s
        .call(
            Method::POST,
            "/v1/mfa/totp/confirm",
            Some(json!({"code": totp_now(&en.str("secret"), 0)})),
            Some(&sess.access),
        )
        .await;
    assert_eq!(conf.status, StatusCode::OK, "{conf:?}");
    assert!(conf.body["recovery_codes"].is_array());
    no_store(&conf);
}
