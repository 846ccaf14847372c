//! The `passkeys` table: each user's WebAuthn credentials.

use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use super::{Database, DbError};

/// A stored passkey.
#[derive(Clone, Debug)]
pub struct StoredPasskey {
    /// Its id in the API (UUIDv7).
    pub id: Uuid,
    /// Whose.
    pub user: UserId,
    /// The user's name for it.
    pub name: String,
    /// What webauthn-rs verifies assertions with (and updates: the counter, backup state).
    pub credential: Passkey,
    /// Registration time.
    pub created_at: Timestamp,
    /// Last sign-in with it.
    pub last_used_at: Option<Timestamp>,
}

/// Adding one failed.
#[derive(Debug, thiserror::Error)]
pub enum AddPasskeyError {
    /// That credential is registered already (to this user or another).
    #[error("credential already registered")]
    Duplicate,
    /// Database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct Passkeys {
    db: Database,
}

const SELECT: &str = "SELECT id, user_id, name, credential, created_at, last_used_at FROM passkeys";

fn credential_id(p: &Passkey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(p.cred_id().as_slice())
}

impl Passkeys {
    /// Over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// `user`'s passkeys, oldest first.
    pub async fn of_user(&self, user: UserId) -> Result<Vec<StoredPasskey>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE user_id = $1 ORDER BY created_at, id"
        )))
        .bind(user.to_string())
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter().map(from_row).collect()
    }

    /// Stores a new passkey.
    pub async fn add(&self, p: &StoredPasskey) -> Result<(), AddPasskeyError> {
        let json = serde_json::to_string(&p.credential)
            .map_err(|e| DbError::Query(sqlx::Error::Encode(Box::new(e))))?;
        let res = sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(p.id.to_string())
        .bind(p.user.to_string())
        .bind(credential_id(&p.credential))
        .bind(p.name.clone())
        .bind(json)
        .bind(p.created_at.as_secs())
        .execute(self.db.pool())
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(AddPasskeyError::Duplicate)
            }
            Err(e) => Err(AddPasskeyError::Db(e.into())),
        }
    }

    /// Records a sign-in with `p` whose signature counter is `counter`, and its updated
    /// credential (counter, backup state): only if the counter is higher than the newest
    /// one recorded, or both are 0 (an authenticator without a counter), decided by the one
    /// `UPDATE`. `false` when it is not: a cloned authenticator (WebAuthn §6.1.1), or the
    /// same counter twice at once.
    pub async fn used(
        &self,
        p: &StoredPasskey,
        counter: u32,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let json = serde_json::to_string(&p.credential)
            .map_err(|e| DbError::Query(sqlx::Error::Encode(Box::new(e))))?;
        let res = sqlx::query(
            "UPDATE passkeys SET credential = $1, last_used_at = $2, sign_count = $3 \
             WHERE id = $4 AND ((sign_count = 0 AND $3 = 0) OR sign_count < $3)",
        )
        .bind(json)
        .bind(now.as_secs())
        .bind(i64::from(counter))
        .bind(p.id.to_string())
        .execute(self.db.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Removes `user`'s passkey `id`, unless it is the user's last way to sign in (no
    /// password, no linked identity, no other passkey). One transaction that first writes
    /// the user's row, so concurrent removals run one after the other.
    pub async fn remove_unless_last(
        &self,
        user: UserId,
        id: Uuid,
        has_password: bool,
    ) -> Result<Removed, DbError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM passkeys WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_all(&mut *tx)
            .await?;
        if !ids.iter().any(|i| *i == id.to_string()) {
            return Ok(Removed::NotFound);
        }
        let identities: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM identities WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_one(&mut *tx)
                .await?;
        if !has_password && identities == 0 && ids.len() <= 1 {
            return Ok(Removed::Last);
        }
        sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND id = $2")
            .bind(user.to_string())
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Removed::Removed)
    }

    /// Removes every passkey of `user` (an operator action); how many.
    pub async fn remove_all(&self, user: UserId) -> Result<u64, DbError> {
        let res = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(user.to_string())
            .execute(self.db.pool())
            .await?;
        Ok(res.rows_affected())
    }
}

/// What [`Passkeys::remove_unless_last`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// Gone.
    Removed,
    /// The user has no such passkey.
    NotFound,
    /// It is the user's last way to sign in: kept.
    Last,
}

fn from_row(row: AnyRow) -> Result<StoredPasskey, DbError> {
    let corrupt =
        |what: &str| DbError::Query(sqlx::Error::Decode(format!("passkeys.{what}").into()));
    let id: String = row.try_get("id")?;
    let user: String = row.try_get("user_id")?;
    let credential: String = row.try_get("credential")?;
    let created_at: i64 = row.try_get("created_at")?;
    let last_used_at: Option<i64> = row.try_get("last_used_at")?;
    Ok(StoredPasskey {
        id: id.parse().map_err(|_| corrupt("id"))?,
        user: user.parse().map_err(|_| corrupt("user_id"))?,
        name: row.try_get("name")?,
        credential: serde_json::from_str(&credential).map_err(|_| corrupt("credential"))?,
        created_at: Timestamp::from_secs(created_at),
        last_used_at: last_used_at.map(Timestamp::from_secs),
    })
}
