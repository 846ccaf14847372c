//! The MFA tables.

use sqlx::Row;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::DataKey;
use super::recovery;
use crate::accounts::{Database, DbError};

/// A user's TOTP enrolment.
#[derive(Clone)]
pub struct TotpRecord {
    /// Base32 secret (decrypted).
    pub secret: String,
    /// `None` while pending (enrolled, not yet confirmed with a code).
    pub confirmed_at: Option<Timestamp>,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord")
            .field("confirmed_at", &self.confirmed_at)
            .finish_non_exhaustive()
    }
}

/// Access to `mfa_totp` and `mfa_recovery_codes`.
#[derive(Clone, Debug)]
pub struct MfaRecords {
    db: Database,
    key: DataKey,
}

impl MfaRecords {
    /// Over `db`, sealing with `key`.
    pub fn new(db: Database, key: DataKey) -> Self {
        Self { db, key }
    }

    /// The data key.
    pub fn key(&self) -> &DataKey {
        &self.key
    }

    /// The user's enrolment, if any. A row that does not decrypt (key changed) reads as none.
    pub async fn totp(&self, user: UserId) -> Result<Option<TotpRecord>, DbError> {
        let row = sqlx::query("SELECT secret_enc, confirmed_at FROM mfa_totp WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_optional(self.db.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let sealed: String = row.try_get("secret_enc")?;
        let confirmed: Option<i64> = row.try_get("confirmed_at")?;
        match self.key.open(&user.to_string(), &sealed) {
            Ok(plain) => Ok(Some(TotpRecord {
                secret: String::from_utf8_lossy(&plain).into_owned(),
                confirmed_at: confirmed.map(Timestamp::from_secs),
            })),
            Err(_) => {
                tracing::error!(user = %user, "TOTP secret does not decrypt with the data key");
                Ok(None)
            }
        }
    }

    /// Whether the user has a confirmed TOTP factor.
    pub async fn enabled(&self, user: UserId) -> Result<bool, DbError> {
        Ok(self
            .totp(user)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some()))
    }

    /// Stores a pending enrolment, replacing a previous pending one. Refuses (returns false)
    /// when a confirmed factor exists.
    pub async fn put_pending(
        &self,
        user: UserId,
        secret: &str,
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let sealed = self.key.seal(&user.to_string(), secret.as_bytes());
        sqlx::query("DELETE FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NULL")
            .bind(user.to_string())
            .execute(self.db.pool())
            .await?;
        let res = sqlx::query(
            "INSERT INTO mfa_totp (user_id, secret_enc, confirmed_at, created_at) VALUES ($1, $2, NULL, $3) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user.to_string())
        .bind(sealed)
        .bind(now.as_secs())
        .execute(self.db.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Confirms the pending enrolment and stores the recovery codes' hashes (replacing any).
    pub async fn confirm(
        &self,
        user: UserId,
        codes: &[String],
        now: Timestamp,
    ) -> Result<(), DbError> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("UPDATE mfa_totp SET confirmed_at = $1 WHERE user_id = $2")
            .bind(now.as_secs())
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        for code in codes {
            sqlx::query("INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                .bind(user.to_string())
                .bind(recovery::hash(&self.key, &user.to_string(), code))
                .bind(now.as_secs())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes the factor and its recovery codes.
    pub async fn remove(&self, user: UserId) -> Result<(), DbError> {
        let mut tx = self.db.pool().begin().await?;
        for table in [
            "DELETE FROM mfa_totp WHERE user_id = $1",
            "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
        ] {
            sqlx::query(table)
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Uses a recovery code: true when it existed, and it never works again (the delete
    /// decides, so two concurrent uses cannot both succeed).
    pub async fn consume_recovery_code(&self, user: UserId, code: &str) -> Result<bool, DbError> {
        let res =
            sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1 AND code_hash = $2")
                .bind(user.to_string())
                .bind(recovery::hash(&self.key, &user.to_string(), code))
                .execute(self.db.pool())
                .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Recovery codes left.
    pub async fn recovery_codes_left(&self, user: UserId) -> Result<u64, DbError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM mfa_recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_one(self.db.pool())
            .await?;
        let n: i64 = row.try_get("n")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
