//! Keys stored in SQL, through the real binary: two instances on one database share the
//! ring, its rotations and the data key; a wrong or missing master key refuses the start; an
//! existing `keys.json` is imported and the tokens it signed keep working.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use tessera_core::keys::SigningAlg;
use tessera_core::time::Timestamp;
use tessera_server::keys::{KeyFile, MasterKey};
use tessera_testkit::postgres::TempDatabase;
use tessera_testkit::{RedisServer, TempDir, free_port, redis_available};

use super::binary::{enrol_totp, serve_refused, sign_in_with_totp};
use super::signin::decode;
use crate::common::binary::{Binary, command};
use crate::common::{PW, Session, email, keys};

fn kid(access: &str) -> String {
    decode(access).0["kid"].as_str().unwrap().to_owned()
}

fn jwks_kids(body: &serde_json::Value) -> Vec<String> {
    body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["kid"].as_str().map(str::to_owned))
        .collect()
}

/// Refreshes on `srv` until the access token is signed with `want`; the last session.
async fn refresh_until_kid(srv: &Binary, mut session: Session, want: &str) -> Session {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = srv.refresh(&session.refresh).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        session = Session::from(&r);
        if kid(&session.access) == want {
            return session;
        }
        assert!(
            Instant::now() < deadline,
            "rotation not picked up: {}",
            srv.logs()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_database_share_the_ring_its_rotations_and_second_factors() {
    if !redis_available() {
        return;
    }
    let Some(pg) = TempDatabase::create().await else {
        return;
    };
    let redis_dir = TempDir::new("api-keys-shared");
    let redis = RedisServer::start(free_port(), redis_dir.path(), &[]);
    let url = redis.url();
    let master = MasterKey::generate();
    let encoded = master.encode();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("DATABASE_URL", pg.url()),
        ("TESSERA_MASTER_KEY", encoded.as_str()),
        ("TESSERA_ISSUER", "http://tessera.test"),
    ];
    let (dir_a, dir_b, dir_cli) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    // Both start at once on the empty database, each with its own empty data directory.
    let (a, b) = tokio::join!(
        Binary::serve(dir_a.path(), &env),
        Binary::serve(dir_b.path(), &env)
    );
    let generated = [a.logs(), b.logs()]
        .iter()
        .filter(|l| l.contains("keys generated into the database"))
        .count();
    assert_eq!(
        generated, 1,
        "one instance creates the ring, the other reads it"
    );
    for d in [&dir_a, &dir_b] {
        let data = d.path().join("tessera-data");
        assert!(!data.join("keys.json").exists() && !data.join("master.key").exists());
    }

    // A token signed by one is accepted by the other; its refresh token works there too.
    let e = email("shared-keys");
    let s = a.signed_up(&e).await;
    let old_kid = kid(&s.access);
    assert_eq!(b.me(&s.access).await.status, StatusCode::OK);
    let s_b = Session::from(&b.refresh(&s.refresh).await);
    assert_eq!(kid(&s_b.access), old_kid);
    assert_eq!(a.me(&s_b.access).await.status, StatusCode::OK);

    // `tessera keys rotate`, run from a third place against the database.
    let out = command(&["keys", "rotate"], dir_cli.path(), &env)
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success() && printed.contains("new signing key"),
        "{printed} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_kid = printed.split_whitespace().nth(3).unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    // Both sign with the new key within seconds, and accept each other's new tokens.
    let on_a = refresh_until_kid(&a, s_b, &new_kid).await;
    let on_b = refresh_until_kid(&b, b.signed_up(&email("shared-new")).await, &new_kid).await;
    assert_eq!(b.me(&on_a.access).await.status, StatusCode::OK);
    assert_eq!(a.me(&on_b.access).await.status, StatusCode::OK);
    // The old key verifies until it retires: the token it signed is accepted by both, and
    // both publish it.
    for srv in [&a, &b] {
        assert_eq!(srv.me(&s.access).await.status, StatusCode::OK);
        let jwks = srv
            .call(Method::GET, "/.well-known/jwks.json", None, None)
            .await;
        let kids = jwks_kids(&jwks.body);
        assert!(
            kids.contains(&old_kid) && kids.contains(&new_kid),
            "{kids:?}"
        );
    }
    let list = command(&["keys", "list"], dir_cli.path(), &env)
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains(&format!("{old_kid}\tEdDSA\tretired"))
            && listed.contains(&format!("{new_kid}\tEdDSA\tactive")),
        "{listed}"
    );

    // A second factor enrolled through one is required by the other, and opens there.
    let e2 = email("shared-mfa");
    let secret = enrol_totp(&a, &e2).await;
    let ch = b.login(&e2, PW).await;
    assert_eq!(ch.body["mfa_required"], true, "{ch:?}");
    sign_in_with_totp(&b, &e2, &secret).await;

    // A key removed from the database (an operator dropping a compromised key: its row
    // deleted, the generation bumped) stops verifying on both within a poll, although both
    // verified its token above and hold it in their verified-token caches.
    for srv in [&a, &b] {
        assert_eq!(srv.me(&s.access).await.status, StatusCode::OK);
    }
    let db = sqlx::PgPool::connect(pg.url()).await.unwrap();
    let removed = sqlx::query("DELETE FROM server_keys WHERE name = $1")
        .bind(format!("signing:{old_kid}"))
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(removed.rows_affected(), 1);
    sqlx::query("UPDATE server_key_ring SET generation = generation + 1 WHERE id = 1")
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    for srv in [&a, &b] {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let me = srv.me(&s.access).await;
            if me.status == StatusCode::UNAUTHORIZED {
                assert_eq!(me.code(), Some("invalid_token"), "{me:?}");
                break;
            }
            assert_eq!(me.status, StatusCode::OK, "{me:?}");
            assert!(
                Instant::now() < deadline,
                "the removed key still verifies: {}",
                srv.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let jwks = srv
            .call(Method::GET, "/.well-known/jwks.json", None, None)
            .await;
        let kids = jwks_kids(&jwks.body);
        assert!(
            !kids.contains(&old_kid) && kids.contains(&new_kid),
            "{kids:?}"
        );
        assert_eq!(srv.me(&on_a.access).await.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_weak_or_missing_master_key_refuses_the_start_and_names_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let right = MasterKey::generate();
    let right_text = right.encode();
    let mut srv = Binary::serve(dir.path(), &[("TESSERA_MASTER_KEY", &right_text)]).await;
    let s = srv.signed_up(&email("master")).await;
    srv.stop();
    assert!(
        !dir.path().join("tessera-data").join("master.key").exists(),
        "a configured master key is not written anywhere"
    );

    let wrong = MasterKey::generate();
    let (status, err) = serve_refused(dir.path(), &[("TESSERA_MASTER_KEY", &wrong.encode())]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "wrong master key: the keys in the database were sealed with master key {}, but \
             TESSERA_MASTER_KEY is master key {}",
            right.id(),
            wrong.id()
        )),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");

    // Neither variable, and no generated key in the data directory.
    let (status, err) = serve_refused(dir.path(), &[]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "no master key: the database holds keys sealed with master key {}",
            right.id()
        )) && err.contains("TESSERA_MASTER_KEY_FILE"),
        "{err}"
    );
    assert!(
        !dir.path().join("tessera-data").join("master.key").exists(),
        "no key is generated over a database that has keys"
    );

    // Too weak to be a key: refused as a setting (exit 2, like any invalid setting).
    let (status, err) = serve_refused(dir.path(), &[("TESSERA_MASTER_KEY", "hunter22")]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid setting master_key") && err.contains("exactly 32 random bytes"),
        "{err}"
    );
    assert!(
        !err.contains("hunter22"),
        "the value is never repeated: {err}"
    );
    let out = command(
        &["config", "check"],
        dir.path(),
        &[("TESSERA_MASTER_KEY", &right_text)],
    )
    .output()
    .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && shown.contains("master_key = \"<redacted>\"  # TESSERA_MASTER_KEY")
            && !shown.contains(&right_text),
        "{shown}"
    );

    // The right key from a file: it starts, and the token from before is still valid.
    let file = dir.path().join("master-key.txt");
    std::fs::write(&file, format!("{right_text}\n")).unwrap();
    let file_env = [("TESSERA_MASTER_KEY_FILE", file.to_str().unwrap())];
    let srv = Binary::serve(dir.path(), &file_env).await;
    let jwks = srv
        .call(Method::GET, "/.well-known/jwks.json", None, None)
        .await;
    assert!(jwks_kids(&jwks.body).contains(&kid(&s.access)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_keys_json_is_imported_and_tokens_signed_before_keep_working() {
    if !redis_available() {
        return;
    }
    let redis_dir = TempDir::new("api-keys-import");
    let redis = RedisServer::start(free_port(), redis_dir.path(), &[]);
    let url = redis.url();
    let env = [
        ("REDIS_URL", url.as_str()),
        ("TESSERA_ISSUER", "http://tessera.test"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("tessera-data");
    std::fs::create_dir_all(&data).unwrap();
    // The key file of a version that kept keys in the data directory (before data keys).
    let path = KeyFile::path(&data);
    let legacy = KeyFile {
        data_key: None,
        ..KeyFile::generate(SigningAlg::EdDSA, Timestamp::from_secs(1_700_000_000)).unwrap()
    };
    legacy.write(&path).unwrap();
    let file_kid = legacy.signing_keys[0].kid.clone();
    let before = std::fs::read(&path).unwrap();

    let mut srv = Binary::serve(dir.path(), &env).await;
    assert!(
        srv.logs().contains("imported keys.json into the database"),
        "{}",
        srv.logs()
    );
    let e = email("import");
    let s = srv.signed_up(&e).await;
    assert_eq!(kid(&s.access), file_kid, "signed with the imported key");
    srv.stop();
    // The state of an installation that never ran this version: keys.json, a database
    // without keys, no master key; the sessions live on in Redis.
    let db = keys::database(&keys::sqlite_url(&data)).await;
    keys::forget(&db).await;
    std::fs::remove_file(data.join("master.key")).unwrap();

    let srv = Binary::serve(dir.path(), &env).await;
    assert!(srv.logs().contains("imported keys.json into the database"));
    assert_eq!(
        srv.me(&s.access).await.status,
        StatusCode::OK,
        "an access token signed before the upgrade verifies"
    );
    let r = srv.refresh(&s.refresh).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "and its refresh token works: {r:?}"
    );
    assert_eq!(kid(&Session::from(&r).access), file_kid);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "keys.json left as it was"
    );
    let stored = keys::signing_keys(&data, &db).await;
    assert_eq!(stored, legacy.signing_keys);
}
