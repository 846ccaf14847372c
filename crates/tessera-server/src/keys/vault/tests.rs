//! The vault on SQLite and, when `DATABASE_URL` names a PostgreSQL server, on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::panic)]

use super::*;
use crate::accounts::testing::databases;

const KEEP: Duration = Duration::from_secs(960);
const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);

fn vault(db: &Database, master: &MasterKey) -> KeyVault {
    KeyVault::new(db.clone(), master.clone(), "TESSERA_MASTER_KEY")
}

fn same(a: &StoredKeys, b: &StoredKeys) -> bool {
    a.signing == b.signing
        && a.refresh.as_bytes() == b.refresh.as_bytes()
        && a.data.bytes() == b.data.bytes()
}

#[tokio::test]
async fn keys_are_created_once_and_read_back_by_every_instance() {
    for (engine, db, _guard) in databases().await {
        let master = MasterKey::generate();
        let empty = tempfile::tempdir().unwrap();
        assert!(sealed_with(&db).await.unwrap().is_none(), "{engine}");
        let (a, origin) = vault(&db, &master)
            .open_or_create(empty.path(), SigningAlg::EdDSA, KEEP, NOW)
            .await
            .unwrap();
        assert_eq!(origin, Origin::Generated, "{engine}");
        assert_eq!(sealed_with(&db).await.unwrap(), Some(master.id()));
        let (b, origin) = vault(&db, &master)
            .open_or_create(empty.path(), SigningAlg::EdDSA, KEEP, NOW)
            .await
            .unwrap();
        assert_eq!(origin, Origin::Existing, "{engine}");
        assert!(same(&a, &b), "{engine}");
        assert_eq!(b.signing.len(), 1);
        // Nothing is stored in the clear: no row holds a key's material.
        let rows = sqlx::query("SELECT sealed FROM server_keys")
            .fetch_all(db.pool())
            .await
            .unwrap();
        let pem = match &a.signing[0].material {
            tessera_core::keys::KeyMaterial::PrivateKeyPem(p)
            | tessera_core::keys::KeyMaterial::HmacSecret(p) => p.clone(),
        };
        for r in rows {
            let sealed: String = r.try_get("sealed").unwrap();
            assert!(
                !sealed.contains("PRIVATE") && !pem.contains(&sealed),
                "{engine}"
            );
        }
    }
}

#[tokio::test]
async fn instances_starting_at_once_on_an_empty_database_end_with_one_ring() {
    for (engine, db, _guard) in databases().await {
        let master = MasterKey::generate();
        let empty = tempfile::tempdir().unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let v = vault(&db, &master);
                let dir = empty.path().to_path_buf();
                tokio::spawn(async move {
                    v.open_or_create(&dir, SigningAlg::EdDSA, KEEP, NOW)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        let generated = results
            .iter()
            .filter(|(_, o)| *o == Origin::Generated)
            .count();
        assert_eq!(generated, 1, "{engine}: one instance creates");
        for (keys, _) in &results[1..] {
            assert!(
                same(keys, &results[0].0),
                "{engine}: every instance reads the same"
            );
        }
        let count: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM server_keys WHERE kind = 'signing'")
                .fetch_one(db.pool())
                .await
                .unwrap()
                .try_get("n")
                .unwrap();
        assert_eq!(count, 1, "{engine}");
    }
}

#[tokio::test]
async fn a_wrong_master_key_is_refused_by_id_and_a_tampered_row_by_name() {
    for (engine, db, _guard) in databases().await {
        let master = MasterKey::generate();
        let empty = tempfile::tempdir().unwrap();
        vault(&db, &master)
            .open_or_create(empty.path(), SigningAlg::EdDSA, KEEP, NOW)
            .await
            .unwrap();
        let other = MasterKey::generate();
        let err = vault(&db, &other)
            .open_or_create(empty.path(), SigningAlg::EdDSA, KEEP, NOW)
            .await
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            matches!(err, KeyVaultError::WrongMasterKey { .. }),
            "{engine}: {err:?}"
        );
        assert!(
            text.contains(&master.id()) && text.contains(&other.id()),
            "{text}"
        );
        assert!(text.contains("TESSERA_MASTER_KEY"), "{text}");
        assert!(
            vault(&db, &other)
                .rotate(SigningAlg::EdDSA, KEEP, NOW)
                .await
                .is_err()
        );
        // A row swapped for another row's sealed value does not open: named.
        sqlx::query(
            "UPDATE server_keys SET sealed = (SELECT sealed FROM server_keys WHERE name = 'data') \
             WHERE name = 'refresh'",
        )
        .execute(db.pool())
        .await
        .unwrap();
        let err = vault(&db, &master).load().await.err().unwrap();
        assert!(
            matches!(&err, KeyVaultError::Unseal { name, .. } if name == "refresh"),
            "{engine}: {err:?}"
        );
        assert!(err.to_string().contains("refresh"), "{err}");
    }
}

#[tokio::test]
async fn rotation_serialises_across_instances_and_keeps_the_old_keys_verifying() {
    for (engine, db, _guard) in databases().await {
        let master = MasterKey::generate();
        let empty = tempfile::tempdir().unwrap();
        let v = vault(&db, &master);
        let (first, _) = v
            .open_or_create(empty.path(), SigningAlg::EdDSA, KEEP, NOW)
            .await
            .unwrap();
        let g0 = v.generation().await.unwrap().unwrap();
        let later = NOW.plus(Duration::from_secs(10));
        let (v1, v2) = (vault(&db, &master), vault(&db, &master));
        let (a, b) = tokio::join!(
            v1.rotate(SigningAlg::EdDSA, KEEP, later),
            v2.rotate(SigningAlg::EdDSA, KEEP, later),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_ne!(a, b, "{engine}");
        assert_eq!(v.generation().await.unwrap(), Some(g0 + 2), "{engine}");
        let keys = v.load().await.unwrap().unwrap();
        assert_eq!(keys.signing.len(), 3, "{engine}");
        assert_eq!(
            keys.signing
                .iter()
                .filter(|k| k.retired_at.is_none())
                .count(),
            1,
            "{engine}: one active key"
        );
        let ring = tessera_core::keys::KeyRing::new(&keys.signing, KEEP, later).unwrap();
        let published = ring.jwks();
        assert!(
            published
                .keys
                .iter()
                .any(|k| k.common.key_id.as_deref() == Some(first.signing[0].kid.as_str())),
            "{engine}: the first key still verifies"
        );
        assert!(
            same_secret(&first, &keys),
            "{engine}: refresh and data keys unchanged"
        );
        let listed = list_signing_keys(&db).await.unwrap();
        assert_eq!(listed.len(), 3);
        assert_eq!(listed.iter().filter(|k| k.retired_at.is_none()).count(), 1);
        // Past the retention, a rotation drops the retired keys.
        let much_later = later.plus(KEEP).plus(Duration::from_secs(1));
        v.rotate(SigningAlg::EdDSA, KEEP, much_later).await.unwrap();
        assert_eq!(
            v.load().await.unwrap().unwrap().signing.len(),
            2,
            "{engine}"
        );
        // A configured algorithm change rotates once.
        let (keys, _) = v
            .open_or_create(empty.path(), SigningAlg::ES256, KEEP, much_later)
            .await
            .unwrap();
        let (again, _) = v
            .open_or_create(empty.path(), SigningAlg::ES256, KEEP, much_later)
            .await
            .unwrap();
        assert_eq!(keys.signing, again.signing, "{engine}");
        assert_eq!(active_alg(&keys.signing), Some(SigningAlg::ES256));
    }
}

fn same_secret(a: &StoredKeys, b: &StoredKeys) -> bool {
    a.refresh.as_bytes() == b.refresh.as_bytes() && a.data.bytes() == b.data.bytes()
}

#[tokio::test]
async fn an_existing_keys_json_is_imported_once_and_left_in_place() {
    for (engine, db, _guard) in databases().await {
        let dir = tempfile::tempdir().unwrap();
        let path = KeyFile::path(dir.path());
        let legacy = KeyFile {
            data_key: None,
            ..KeyFile::generate(SigningAlg::EdDSA, NOW).unwrap()
        };
        legacy.write(&path).unwrap();
        let before = std::fs::read(&path).unwrap();
        let master = MasterKey::generate();
        let (keys, origin) = vault(&db, &master)
            .open_or_create(dir.path(), SigningAlg::EdDSA, KEEP, NOW)
            .await
            .unwrap();
        assert_eq!(origin, Origin::Imported, "{engine}");
        assert_eq!(keys.signing, legacy.signing_keys, "{engine}");
        assert_eq!(
            keys.refresh.as_bytes(),
            legacy.refresh_key(&path).unwrap().as_bytes()
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file is left as it was"
        );
        let (_, origin) = vault(&db, &master)
            .open_or_create(dir.path(), SigningAlg::EdDSA, KEEP, NOW)
            .await
            .unwrap();
        assert_eq!(origin, Origin::Existing, "{engine}: imported once");
    }
}
