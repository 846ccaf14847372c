//! The `users` table.

use sqlx::Row;
use sqlx::any::AnyRow;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::db::{Database, DbError};
use super::email::Email;

/// A user account as stored.
#[derive(Clone)]
pub struct User {
    /// Id.
    pub id: UserId,
    /// Normalised email.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Durable token version (the state store's may be ahead until written back).
    pub token_version: u64,
    /// Set while the account is banned.
    pub disabled_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// Prefix of the stored password hash of an account without a password of its own (created
/// by a federated sign-in): never a PHC string, so no password ever verifies against it.
pub const NO_PASSWORD: &str = "!none:";

/// The stored hash of an account without a password: [`NO_PASSWORD`] and a random part (so
/// the standing digests of two such accounts differ).
pub fn no_password() -> String {
    use base64::Engine;
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    format!(
        "{NO_PASSWORD}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    )
}

impl User {
    /// Whether the account has a password (one created by a federated sign-in has none
    /// until it sets one through a reset).
    pub fn has_password(&self) -> bool {
        !self.password_hash.starts_with(NO_PASSWORD)
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("token_version", &self.token_version)
            .finish_non_exhaustive()
    }
}

/// A user to create.
pub struct NewUser {
    /// Id.
    pub id: UserId,
    /// Normalised email.
    pub email: Email,
    /// Display name.
    pub name: Option<String>,
    /// Argon2id PHC string.
    pub password_hash: String,
}

/// Creating a user failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// The email belongs to an account already.
    #[error("email taken")]
    EmailTaken,
    /// Database failure.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Access to the `users` table.
#[derive(Clone, Debug)]
pub struct Users {
    db: Database,
}

macro_rules! select_user {
    ($where:literal) => {
        concat!(
            "SELECT id, email, name, password_hash, token_version, disabled_at, created_at FROM users WHERE ",
            $where
        )
    };
}

impl Users {
    /// Over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The database it works on.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Inserts a user; a duplicate email is [`CreateUserError::EmailTaken`] (decided by the
    /// unique index, so two concurrent registrations cannot both win).
    pub async fn create(&self, new: NewUser, now: Timestamp) -> Result<User, CreateUserError> {
        let res = sqlx::query(
            "INSERT INTO users (id, email, name, password_hash, token_version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5)",
        )
        .bind(new.id.to_string())
        .bind(new.email.as_str().to_owned())
        .bind(new.name.clone())
        .bind(new.password_hash.clone())
        .bind(now.as_secs())
        .execute(self.db.pool())
        .await;
        match res {
            Ok(_) => Ok(User {
                id: new.id,
                email: new.email.as_str().to_owned(),
                name: new.name,
                password_hash: new.password_hash,
                token_version: 0,
                disabled_at: None,
                created_at: Timestamp::from_secs(now.as_secs()),
            }),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(CreateUserError::EmailTaken)
            }
            Err(e) => Err(CreateUserError::Db(e.into())),
        }
    }

    /// The user with this (normalised) email.
    pub async fn by_email(&self, email: &Email) -> Result<Option<User>, DbError> {
        let row = sqlx::query(select_user!("email = $1"))
            .bind(email.as_str().to_owned())
            .fetch_optional(self.db.pool())
            .await?;
        row.map(from_row).transpose()
    }

    /// The user with this id.
    pub async fn by_id(&self, id: UserId) -> Result<Option<User>, DbError> {
        let row = sqlx::query(select_user!("id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        row.map(from_row).transpose()
    }

    /// Raises the durable token version to `version` (never lowers it).
    pub async fn raise_token_version(
        &self,
        id: UserId,
        version: u64,
        now: Timestamp,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE users SET token_version = $1, updated_at = $2 WHERE id = $3 AND token_version < $1",
        )
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .bind(now.as_secs())
        .bind(id.to_string())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Whether the account's email has been proven to reach its holder (a completed
    /// password reset, or a federated sign-up with a verified email); `false` for an
    /// account that does not exist.
    pub async fn email_proven(&self, id: UserId) -> Result<bool, DbError> {
        let at: Option<Option<i64>> =
            sqlx::query_scalar("SELECT email_proven_at FROM users WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(self.db.pool())
                .await?;
        Ok(matches!(at, Some(Some(_))))
    }

    /// Records that the account's email was proven at `now` (kept if it already was).
    pub async fn prove_email(&self, id: UserId, now: Timestamp) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE users SET email_proven_at = $1 WHERE id = $2 AND email_proven_at IS NULL",
        )
        .bind(now.as_secs())
        .bind(id.to_string())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// After "sign out everywhere" raised the state store's version to `version`: moves the
    /// durable token version past its current value in every case, to `version` when that
    /// is higher, else one above itself. A store that had lost the user's version counts
    /// again from 1, and what is bound to the durable version (pending second-factor
    /// challenges, federated hand-offs, restores from the durable copy) must be voided all
    /// the same.
    pub async fn bump_token_version(
        &self,
        id: UserId,
        version: u64,
        now: Timestamp,
    ) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE users SET token_version = CASE WHEN token_version < $1 THEN $1 \
             ELSE token_version + 1 END, updated_at = $2 WHERE id = $3",
        )
        .bind(i64::try_from(version).unwrap_or(i64::MAX))
        .bind(now.as_secs())
        .bind(id.to_string())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}

impl Users {
    /// Sets (`Some((when, reason))`) or clears (`None`) the ban. Returns whether the user
    /// exists.
    pub async fn set_disabled(
        &self,
        id: UserId,
        ban: Option<(Timestamp, &str)>,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let reason: Option<String> = ban.map(|(_, r)| r.chars().take(500).collect());
        let res = sqlx::query(
            "UPDATE users SET disabled_at = $1, disabled_reason = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(ban.map(|(t, _)| t.as_secs()))
        .bind(reason)
        .bind(now.as_secs())
        .bind(id.to_string())
        .execute(self.db.pool())
        .await?;
        Ok(res.rows_affected() > 0)
    }

    /// Replaces the password hash, but only while it is still `expected` (the hash the caller
    /// checked against): of two concurrent changes or resets exactly one wins. Returns whether
    /// it was replaced.
    pub async fn set_password(
        &self,
        id: UserId,
        new_hash: &str,
        expected: &str,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let res = sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4",
        )
        .bind(new_hash.to_owned())
        .bind(now.as_secs())
        .bind(id.to_string())
        .bind(expected.to_owned())
        .execute(self.db.pool())
        .await?;
        Ok(res.rows_affected() > 0)
    }

    /// [`Users::set_password`] that also raises the durable token version above
    /// `revoked_at` (the version the state store returned when it revoked every session just
    /// before), in the same statement: a session opened under any version up to
    /// `revoked_at` is older than the durable version afterwards, so even if the state store
    /// never hears of this change such a session is refused at its next refresh and dies
    /// at the user's next sign-in (which raises the store's version to SQL's).
    pub async fn set_password_revoking(
        &self,
        id: UserId,
        new_hash: &str,
        expected: &str,
        revoked_at: u64,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let res = sqlx::query(
            "UPDATE users SET password_hash = $1, updated_at = $2, \
             token_version = (CASE WHEN token_version > $5 THEN token_version ELSE $5 END) + 1 \
             WHERE id = $3 AND password_hash = $4",
        )
        .bind(new_hash.to_owned())
        .bind(now.as_secs())
        .bind(id.to_string())
        .bind(expected.to_owned())
        .bind(i64::try_from(revoked_at).unwrap_or(i64::MAX - 1))
        .execute(self.db.pool())
        .await?;
        Ok(res.rows_affected() > 0)
    }

    /// Number of accounts.
    pub async fn count(&self) -> Result<u64, DbError> {
        use sqlx::Row;
        let row = sqlx::query("SELECT COUNT(*) AS n FROM users")
            .fetch_one(self.db.pool())
            .await?;
        let n: i64 = row.try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// A [`User`] from a row holding `users`' columns under their own names (`id`, `email`,
/// `name`, `password_hash`, `token_version`, `disabled_at`, `created_at`).
pub(crate) fn from_row(row: AnyRow) -> Result<User, DbError> {
    let corrupt = |what: &str| DbError::Query(sqlx::Error::Decode(format!("users.{what}").into()));
    let id: String = row.try_get("id")?;
    let token_version: i64 = row.try_get("token_version")?;
    let disabled_at: Option<i64> = row.try_get("disabled_at")?;
    let created_at: i64 = row.try_get("created_at")?;
    Ok(User {
        id: id.parse().map_err(|_| corrupt("id"))?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        password_hash: row.try_get("password_hash")?,
        token_version: u64::try_from(token_version).map_err(|_| corrupt("token_version"))?,
        disabled_at: disabled_at.map(Timestamp::from_secs),
        created_at: Timestamp::from_secs(created_at),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::accounts::testing::databases;
    use crate::accounts::{NewUser, email::Email};

    /// "Sign out everywhere" moves the durable version forward even when the state store's
    /// version (which it reports) is not ahead of it: a store that lost the user's version
    /// counts again from 1.
    #[tokio::test]
    async fn signing_out_everywhere_always_moves_the_durable_version_forward() {
        let now = Timestamp::from_secs(1_700_000_000);
        for (engine, db, _keep) in databases().await {
            let users = Users::new(db);
            let id = users
                .create(
                    NewUser {
                        id: UserId::new(),
                        email: Email::parse("bump@example.org").unwrap(),
                        name: None,
                        password_hash: String::new(),
                    },
                    now,
                )
                .await
                .unwrap()
                .id;
            let version = || async { users.by_id(id).await.unwrap().unwrap().token_version };
            // The store ahead (the usual case): SQL follows it.
            users.bump_token_version(id, 5, now).await.unwrap();
            assert_eq!(version().await, 5, "{engine}");
            // The store lost the version and counted again from 1; or reports the same.
            users.bump_token_version(id, 1, now).await.unwrap();
            assert_eq!(version().await, 6, "{engine}");
            users.bump_token_version(id, 6, now).await.unwrap();
            assert_eq!(version().await, 7, "{engine}");
            // A raise never moves it back, nor forward when not above.
            users.raise_token_version(id, 3, now).await.unwrap();
            assert_eq!(version().await, 7, "{engine}");
        }
    }
}
