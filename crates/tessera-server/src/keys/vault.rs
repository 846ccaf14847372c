//! The keys in the SQL database, sealed under the master key.
//!
//! Tables `server_keys` (one sealed row per key) and `server_key_ring` (one row: the
//! generation counter and the id of the master key that sealed the rows), see migration
//! `0005_server_keys.sql`. Every instance of a deployment reads the same rows, so they sign,
//! verify and open second factors with the same keys.
//!
//! - Creation is insert-if-absent on the single `server_key_ring` row inside the transaction
//!   that inserts the keys: of several instances starting at once on an empty database, one
//!   commits its keys and the others find the row taken, roll back and read the winner's.
//! - A change (rotation) bumps the generation with `UPDATE … WHERE generation = <read>` as the
//!   first statement of its transaction, which serialises concurrent changes: the loser
//!   updates nothing, rolls back and retries on the fresh state.
//! - A master key whose id differs from the stored one is refused before anything is opened;
//!   a row that does not open under the right id is reported by name (corrupt or tampered).

use std::path::Path;
use std::time::Duration;

use sqlx::Row;
use tessera_core::keys::{KeyError, SigningAlg, StoredKey, rotate};
use tessera_core::refresh::RefreshKey;
use tessera_core::time::Timestamp;

use super::file::{KeyFile, KeyFileError};
use super::master::MasterKey;
use crate::accounts::{Database, DbError};
use crate::mfa::DataKey;

/// How often a change retries when another instance changed the keys at the same moment.
const CHANGE_ATTEMPTS: u32 = 8;

/// Reading, creating or changing the stored keys failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyVaultError {
    /// The database.
    #[error("keys in the database: {0}")]
    Db(#[from] DbError),
    /// The master key given is not the one the stored keys were sealed with.
    #[error(
        "wrong master key: the keys in the database were sealed with master key {stored}, but \
         {given_by} is master key {given}; start every instance with the deployment's master key"
    )]
    WrongMasterKey {
        /// Id of the master key that sealed the rows.
        stored: String,
        /// Id of the master key given.
        given: String,
        /// Where the given key came from (`TESSERA_MASTER_KEY`, a file).
        given_by: String,
    },
    /// A row does not open under the right master key: corrupt or tampered with.
    #[error(
        "the stored key {name} does not open with master key {master} (its id matches): the row \
         is corrupt or was altered"
    )]
    Unseal {
        /// The row (`signing:<kid>`, `refresh`, `data`).
        name: String,
        /// The master key id.
        master: String,
    },
    /// A row opens but its content is not a key.
    #[error("the stored key {name} is not a valid key")]
    Malformed {
        /// The row.
        name: String,
    },
    /// The refresh key or data key row is missing.
    #[error("the database holds no {0} key (a partial ring: restore the database)")]
    Missing(&'static str),
    /// Generating or loading a signing key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The `keys.json` being imported.
    #[error(transparent)]
    File(#[from] KeyFileError),
    /// Other instances kept changing the keys.
    #[error("the keys kept changing under this change ({CHANGE_ATTEMPTS} attempts): try again")]
    Contended,
}

/// The keys as read from the database, opened.
pub struct StoredKeys {
    /// Signing keys, active and retired.
    pub signing: Vec<StoredKey>,
    /// Refresh-token successor key.
    pub refresh: RefreshKey,
    /// Data key (TOTP secrets, recovery-code hashes).
    pub data: DataKey,
    /// The ring's generation when read.
    pub generation: i64,
}

/// How [`KeyVault::open_or_create`] found the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// They were in the database.
    Existing,
    /// The database had none: a new set was generated and stored.
    Generated,
    /// The database had none: `keys.json` of the data directory was imported.
    Imported,
}

/// The public columns of one signing key row (`tessera keys list`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedKey {
    /// Key id.
    pub kid: String,
    /// Algorithm name.
    pub alg: String,
    /// When it stopped signing, if it did.
    pub retired_at: Option<Timestamp>,
}

/// The stored keys of one database, opened with one master key.
#[derive(Clone)]
pub struct KeyVault {
    db: Database,
    master: MasterKey,
    given_by: String,
}

impl std::fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyVault")
            .field("master", &self.master.id())
            .finish_non_exhaustive()
    }
}

/// The id of the master key that sealed the database's keys; `None` when it holds none.
pub async fn sealed_with(db: &Database) -> Result<Option<String>, DbError> {
    let row = sqlx::query("SELECT master_key_id FROM server_key_ring WHERE id = 1")
        .fetch_optional(db.pool())
        .await?;
    Ok(match row {
        Some(r) => Some(r.try_get("master_key_id")?),
        None => None,
    })
}

/// The public columns of the signing keys, oldest first (no master key needed).
pub async fn list_signing_keys(db: &Database) -> Result<Vec<ListedKey>, DbError> {
    let rows = sqlx::query(
        "SELECT name, alg, retired_at FROM server_keys WHERE kind = 'signing' ORDER BY created_at, name",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let name: String = r.try_get("name")?;
            Ok(ListedKey {
                kid: name.strip_prefix("signing:").unwrap_or(&name).to_owned(),
                alg: r.try_get::<Option<String>, _>("alg")?.unwrap_or_default(),
                retired_at: r
                    .try_get::<Option<i64>, _>("retired_at")?
                    .map(Timestamp::from_secs),
            })
        })
        .collect()
}

impl KeyVault {
    /// The keys of `db` opened with `master`; `given_by` names where the master key came from
    /// in error messages.
    pub fn new(db: Database, master: MasterKey, given_by: impl Into<String>) -> Self {
        Self {
            db,
            master,
            given_by: given_by.into(),
        }
    }

    /// The ring's generation, `None` when the database holds no keys: cheap, polled by every
    /// instance to notice a rotation.
    pub async fn generation(&self) -> Result<Option<i64>, DbError> {
        let row = sqlx::query("SELECT generation FROM server_key_ring WHERE id = 1")
            .fetch_optional(self.db.pool())
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get("generation")?),
            None => None,
        })
    }

    /// Reads and opens every key; `None` when the database holds none. Refuses a master key
    /// other than the one that sealed them.
    pub async fn load(&self) -> Result<Option<StoredKeys>, KeyVaultError> {
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        let head =
            sqlx::query("SELECT generation, master_key_id FROM server_key_ring WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(DbError::from)?;
        let Some(head) = head else {
            return Ok(None);
        };
        let generation: i64 = head.try_get("generation").map_err(DbError::from)?;
        let stored: String = head.try_get("master_key_id").map_err(DbError::from)?;
        self.check_master(&stored)?;
        let rows = sqlx::query("SELECT name, kind, sealed FROM server_keys")
            .fetch_all(&mut *tx)
            .await
            .map_err(DbError::from)?;
        tx.commit().await.map_err(DbError::from)?;
        let (mut signing, mut refresh, mut data) = (Vec::new(), None, None);
        for r in rows {
            let name: String = r.try_get("name").map_err(DbError::from)?;
            let kind: String = r.try_get("kind").map_err(DbError::from)?;
            let sealed: String = r.try_get("sealed").map_err(DbError::from)?;
            let plain = self
                .master
                .open(&name, &sealed)
                .map_err(|_| KeyVaultError::Unseal {
                    name: name.clone(),
                    master: self.master.id(),
                })?;
            let malformed = || KeyVaultError::Malformed { name: name.clone() };
            match kind.as_str() {
                "signing" => {
                    let key: StoredKey = serde_json::from_slice(&plain).map_err(|_| malformed())?;
                    if name != signing_name(&key.kid) {
                        return Err(malformed());
                    }
                    signing.push(key);
                }
                "refresh" => {
                    refresh = Some(RefreshKey::from_bytes(
                        bytes32(&plain).ok_or_else(malformed)?,
                    ))
                }
                "data" => data = Some(DataKey::from_bytes(bytes32(&plain).ok_or_else(malformed)?)),
                _ => return Err(malformed()),
            }
        }
        signing.sort_by_key(|k| k.created_at);
        Ok(Some(StoredKeys {
            signing,
            refresh: refresh.ok_or(KeyVaultError::Missing("refresh"))?,
            data: data.ok_or(KeyVaultError::Missing("data"))?,
            generation,
        }))
    }

    /// The keys, creating them when the database holds none: imported from
    /// `<data_dir>/keys.json` when that file exists (left in place, no longer read), else
    /// generated. Of several instances doing this at once, one creates and all read the same
    /// keys. When the active signing key is not of `alg`, rotates to a new `alg` key (the old
    /// one verifies for `retention`), once across instances.
    pub async fn open_or_create(
        &self,
        data_dir: &Path,
        alg: SigningAlg,
        retention: Duration,
        now: Timestamp,
    ) -> Result<(StoredKeys, Origin), KeyVaultError> {
        let mut origin = Origin::Existing;
        let keys = match self.load().await? {
            Some(keys) => keys,
            None => {
                let path = KeyFile::path(data_dir);
                let (file, candidate) = match KeyFile::read(&path)? {
                    Some(file) => {
                        // Check it loads before it is stored.
                        file.refresh_key(&path)?;
                        (file.with_data_key(), Origin::Imported)
                    }
                    None => (KeyFile::generate(alg, now)?, Origin::Generated),
                };
                if self.create(&file, &path, now).await? {
                    origin = candidate;
                }
                self.load()
                    .await?
                    .ok_or(KeyVaultError::Missing("signing"))?
            }
        };
        if active_alg(&keys.signing) != Some(alg) {
            self.change(now, |signing| {
                if active_alg(signing) == Some(alg) {
                    return Ok(None);
                }
                rotate(signing, alg, retention, now).map(Some)
            })
            .await?;
            let keys = self
                .load()
                .await?
                .ok_or(KeyVaultError::Missing("signing"))?;
            return Ok((keys, origin));
        }
        Ok((keys, origin))
    }

    /// `tessera keys rotate`: a new active `alg` key; the others retire and verify for
    /// `retention` (keys retired longer ago are dropped). Returns the new `kid`.
    pub async fn rotate(
        &self,
        alg: SigningAlg,
        retention: Duration,
        now: Timestamp,
    ) -> Result<String, KeyVaultError> {
        self.change(now, |signing| {
            rotate(signing, alg, retention, now).map(Some)
        })
        .await?
        .ok_or(KeyVaultError::Contended)
    }

    fn check_master(&self, stored: &str) -> Result<(), KeyVaultError> {
        let given = self.master.id();
        if stored != given {
            return Err(KeyVaultError::WrongMasterKey {
                stored: stored.to_owned(),
                given,
                given_by: self.given_by.clone(),
            });
        }
        Ok(())
    }

    /// Stores `file` as the first keys unless the database already holds some (then
    /// nothing is written). Returns whether this call stored them.
    async fn create(
        &self,
        file: &KeyFile,
        path: &Path,
        now: Timestamp,
    ) -> Result<bool, KeyVaultError> {
        let refresh = file.refresh_key(path)?;
        let data = file.data_key(path)?;
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        let claimed = sqlx::query(
            "INSERT INTO server_key_ring (id, generation, master_key_id, updated_at) \
             VALUES (1, 1, $1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(self.master.id())
        .bind(now.as_secs())
        .execute(&mut *tx)
        .await
        .map_err(DbError::from)?
        .rows_affected();
        if claimed == 0 {
            tx.rollback().await.map_err(DbError::from)?;
            return Ok(false);
        }
        for (name, sealed) in [
            ("refresh", self.master.seal("refresh", refresh.as_bytes())),
            ("data", self.master.seal("data", data.bytes())),
        ] {
            sqlx::query(
                "INSERT INTO server_keys (name, kind, alg, sealed, created_at, retired_at) \
                 VALUES ($1, $2, NULL, $3, $4, NULL)",
            )
            .bind(name)
            .bind(name)
            .bind(sealed)
            .bind(now.as_secs())
            .execute(&mut *tx)
            .await
            .map_err(DbError::from)?;
        }
        for key in &file.signing_keys {
            self.insert_signing(&mut tx, key).await?;
        }
        tx.commit().await.map_err(DbError::from)?;
        Ok(true)
    }

    /// Applies `edit` to the signing keys and stores the result, serialised against every
    /// other change (see the module docs); `edit` sees fresh keys on each attempt and
    /// returns `None` for "nothing to change".
    async fn change<T>(
        &self,
        now: Timestamp,
        mut edit: impl FnMut(&mut Vec<StoredKey>) -> Result<Option<T>, KeyError>,
    ) -> Result<Option<T>, KeyVaultError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let keys = self
                .load()
                .await?
                .ok_or(KeyVaultError::Missing("signing"))?;
            let mut signing = keys.signing.clone();
            let Some(out) = edit(&mut signing)? else {
                return Ok(None);
            };
            let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
            let won = sqlx::query(
                "UPDATE server_key_ring SET generation = generation + 1, updated_at = $1 \
                 WHERE id = 1 AND generation = $2 AND master_key_id = $3",
            )
            .bind(now.as_secs())
            .bind(keys.generation)
            .bind(self.master.id())
            .execute(&mut *tx)
            .await
            .map_err(DbError::from)?
            .rows_affected();
            if won == 0 {
                tx.rollback().await.map_err(DbError::from)?;
                continue;
            }
            sqlx::query("DELETE FROM server_keys WHERE kind = 'signing'")
                .execute(&mut *tx)
                .await
                .map_err(DbError::from)?;
            for key in &signing {
                self.insert_signing(&mut tx, key).await?;
            }
            tx.commit().await.map_err(DbError::from)?;
            return Ok(Some(out));
        }
        Err(KeyVaultError::Contended)
    }

    async fn insert_signing(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        key: &StoredKey,
    ) -> Result<(), KeyVaultError> {
        let name = signing_name(&key.kid);
        let json =
            serde_json::to_vec(key).map_err(|_| KeyVaultError::Malformed { name: name.clone() })?;
        sqlx::query(
            "INSERT INTO server_keys (name, kind, alg, sealed, created_at, retired_at) \
             VALUES ($1, 'signing', $2, $3, $4, $5)",
        )
        .bind(&name)
        .bind(key.alg.as_str())
        .bind(self.master.seal(&name, &json))
        .bind(key.created_at.as_secs())
        .bind(key.retired_at.map(Timestamp::as_secs))
        .execute(&mut **tx)
        .await
        .map_err(DbError::from)?;
        Ok(())
    }
}

fn signing_name(kid: &str) -> String {
    format!("signing:{kid}")
}

fn active_alg(signing: &[StoredKey]) -> Option<SigningAlg> {
    signing
        .iter()
        .filter(|k| k.retired_at.is_none())
        .max_by_key(|k| k.created_at)
        .map(|k| k.alg)
}

fn bytes32(raw: &[u8]) -> Option<[u8; 32]> {
    raw.try_into().ok()
}

#[cfg(test)]
mod tests;
