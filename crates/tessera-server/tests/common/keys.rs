//! The keys a server stored in its database, read and changed behind its back: tests that
//! sign as the server, or give it another data key.

use std::path::Path;

use secrecy::SecretString;
use sqlx::Row;
use tessera_core::keys::StoredKey;
use tessera_server::accounts::Database;
use tessera_server::keys::{KeyVault, MasterKey};
use tessera_server::mfa::DataKey;

/// Connects to `url` (migrations run, as the server does).
pub async fn database(url: &str) -> Database {
    Database::connect(&SecretString::from(url.to_owned()))
        .await
        .unwrap()
}

/// The SQLite URL of the embedded default in `data_dir`.
pub fn sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("tessera.db").display())
}

/// The generated master key of `data_dir`.
pub fn master(data_dir: &Path) -> MasterKey {
    MasterKey::read_generated(data_dir).unwrap().unwrap()
}

/// The stored signing keys, opened with the generated master key of `data_dir`.
pub async fn signing_keys(data_dir: &Path, db: &Database) -> Vec<StoredKey> {
    KeyVault::new(db.clone(), master(data_dir), "test")
        .load()
        .await
        .unwrap()
        .unwrap()
        .signing
}

/// The id of the stored data key.
pub async fn data_key_id(data_dir: &Path, db: &Database) -> String {
    KeyVault::new(db.clone(), master(data_dir), "test")
        .load()
        .await
        .unwrap()
        .unwrap()
        .data
        .id()
}

/// Replaces the stored data key by 32 bytes of `b`; returns the new key's id.
pub async fn set_data_key(data_dir: &Path, db: &Database, b: u8) -> String {
    let sealed = master(data_dir).seal("data", &[b; 32]);
    set_sealed_data_key(db, &sealed).await;
    DataKey::from_bytes([b; 32]).id()
}

/// Replaces the stored data key row by `sealed`.
pub async fn set_sealed_data_key(db: &Database, sealed: &str) {
    sqlx::query("UPDATE server_keys SET sealed = $1 WHERE name = 'data'")
        .bind(sealed)
        .execute(db.pool())
        .await
        .unwrap();
}

/// One `server_keys` row: name, kind, alg, sealed, created_at, retired_at.
type KeyRow = (String, String, Option<String>, String, i64, Option<i64>);

/// Every stored key row and the ring row, to put back with [`restore`].
pub struct Snapshot {
    keys: Vec<KeyRow>,
    ring: (i64, String, i64),
}

/// Reads the stored keys as they are.
pub async fn snapshot(db: &Database) -> Snapshot {
    let keys =
        sqlx::query("SELECT name, kind, alg, sealed, created_at, retired_at FROM server_keys")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.try_get(0).unwrap(),
                    r.try_get(1).unwrap(),
                    r.try_get(2).unwrap(),
                    r.try_get(3).unwrap(),
                    r.try_get(4).unwrap(),
                    r.try_get(5).unwrap(),
                )
            })
            .collect();
    let r = sqlx::query("SELECT generation, master_key_id, updated_at FROM server_key_ring")
        .fetch_one(db.pool())
        .await
        .unwrap();
    Snapshot {
        keys,
        ring: (
            r.try_get(0).unwrap(),
            r.try_get(1).unwrap(),
            r.try_get(2).unwrap(),
        ),
    }
}

/// Deletes every stored key (a database restored without them).
pub async fn forget(db: &Database) {
    for statement in ["DELETE FROM server_keys", "DELETE FROM server_key_ring"] {
        sqlx::query(statement).execute(db.pool()).await.unwrap();
    }
}

/// Replaces the stored keys by `snap`.
pub async fn restore(db: &Database, snap: &Snapshot) {
    forget(db).await;
    for (name, kind, alg, sealed, created, retired) in &snap.keys {
        sqlx::query(
            "INSERT INTO server_keys (name, kind, alg, sealed, created_at, retired_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(name)
        .bind(kind)
        .bind(alg.clone())
        .bind(sealed)
        .bind(*created)
        .bind(*retired)
        .execute(db.pool())
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO server_key_ring (id, generation, master_key_id, updated_at) VALUES (1, $1, $2, $3)",
    )
    .bind(snap.ring.0)
    .bind(&snap.ring.1)
    .bind(snap.ring.2)
    .execute(db.pool())
    .await
    .unwrap();
}
