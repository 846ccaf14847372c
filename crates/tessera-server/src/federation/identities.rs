//! The `identities` table: which provider account signs in to which user.
//!
//! `(provider, subject)` is unique (one provider account belongs to one user) and so is
//! `(user, provider)` (a user links at most one account per provider). Both are enforced by
//! the database, so two concurrent links cannot both win.

use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use crate::accounts::{Database, DbError};

/// A stored link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkedIdentity {
    /// Provider name.
    pub provider: String,
    /// The provider's subject.
    pub subject: String,
    /// The user it signs in to.
    pub user: UserId,
    /// The email the provider gave when it was linked.
    pub email: Option<String>,
    /// Whether the provider asserted that email verified.
    pub email_verified: bool,
    /// When it was linked.
    pub linked_at: Timestamp,
}

/// Linking failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The provider account is linked to a user already, or the user has an account of
    /// this provider linked already.
    #[error("identity already linked")]
    Conflict,
    /// Database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct Identities {
    db: Database,
}

const SELECT: &str =
    "SELECT provider, subject, user_id, email, email_verified, linked_at FROM identities";

impl Identities {
    /// Over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The link of `subject` at `provider`.
    pub async fn find(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<LinkedIdentity>, DbError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE provider = $1 AND subject = $2"
        )))
        .bind(provider.to_owned())
        .bind(subject.to_owned())
        .fetch_optional(self.db.pool())
        .await?;
        row.map(from_row).transpose()
    }

    /// Every link of `user`, by provider.
    pub async fn of_user(&self, user: UserId) -> Result<Vec<LinkedIdentity>, DbError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE user_id = $1 ORDER BY provider"
        )))
        .bind(user.to_string())
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter().map(from_row).collect()
    }

    /// Links `identity`.
    pub async fn link(&self, identity: &LinkedIdentity) -> Result<(), LinkError> {
        let res = sqlx::query(
            "INSERT INTO identities (provider, subject, user_id, email, email_verified, linked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(identity.provider.clone())
        .bind(identity.subject.clone())
        .bind(identity.user.to_string())
        .bind(identity.email.clone())
        .bind(i64::from(identity.email_verified))
        .bind(identity.linked_at.as_secs())
        .execute(self.db.pool())
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(LinkError::Conflict),
            Err(e) => Err(LinkError::Db(e.into())),
        }
    }
}

/// What [`Identities::unlink_unless_last`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlinked {
    /// The link is gone.
    Removed,
    /// The user has no link to that provider.
    NotLinked,
    /// It is the user's last way to sign in: kept.
    Last,
}

impl Identities {
    /// Removes every linked identity of `user`; how many.
    pub async fn remove_all(&self, user: UserId) -> Result<u64, DbError> {
        Ok(sqlx::query("DELETE FROM identities WHERE user_id = $1")
            .bind(user.to_string())
            .execute(self.db.pool())
            .await?
            .rows_affected())
    }

    /// Removes `user`'s link to `provider`, unless the user has no password
    /// (`has_password` false), no passkey and no other link. One transaction that first writes the
    /// user's row, so concurrent unlinks of one user run one after the other (a row lock on
    /// PostgreSQL, the write lock on SQLite) and never remove the last two together.
    pub async fn unlink_unless_last(
        &self,
        user: UserId,
        provider: &str,
        has_password: bool,
    ) -> Result<Unlinked, DbError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        let linked: Vec<String> =
            sqlx::query_scalar("SELECT provider FROM identities WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_all(&mut *tx)
                .await?;
        if !linked.iter().any(|p| p == provider) {
            return Ok(Unlinked::NotLinked);
        }
        let passkeys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_one(&mut *tx)
            .await?;
        if !has_password && passkeys == 0 && linked.len() <= 1 {
            return Ok(Unlinked::Last);
        }
        sqlx::query("DELETE FROM identities WHERE user_id = $1 AND provider = $2")
            .bind(user.to_string())
            .bind(provider.to_owned())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Unlinked::Removed)
    }
}

fn from_row(row: AnyRow) -> Result<LinkedIdentity, DbError> {
    let corrupt =
        |what: &str| DbError::Query(sqlx::Error::Decode(format!("identities.{what}").into()));
    let user: String = row.try_get("user_id")?;
    let linked_at: i64 = row.try_get("linked_at")?;
    Ok(LinkedIdentity {
        provider: row.try_get("provider")?,
        subject: row.try_get("subject")?,
        user: user.parse().map_err(|_| corrupt("user_id"))?,
        email: row.try_get("email")?,
        email_verified: row.try_get::<i64, _>("email_verified")? != 0,
        linked_at: Timestamp::from_secs(linked_at),
    })
}
