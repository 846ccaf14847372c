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

/// Why a confirmed second factor cannot be evaluated with this server's data key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    /// The row names another data key (keys regenerated or replaced in the database, or one
    /// imported from another instance's `keys.json`).
    #[error("sealed with data key {stored}, but this server holds data key {current}")]
    OtherKey {
        /// The key id stored with the row.
        stored: String,
        /// This server's key id.
        current: String,
    },
    /// The row names this key (or none: written before key ids were recorded) and still does
    /// not open: corrupt, or sealed with another key before key ids existed.
    #[error("does not open with data key {current}")]
    DoesNotOpen {
        /// This server's key id.
        current: String,
    },
}

/// Reading the MFA tables failed.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A confirmed factor exists but cannot be evaluated: the caller must refuse, never treat
    /// it as "no second factor".
    #[error("second factor cannot be evaluated: {0}")]
    Unreadable(#[from] Unreadable),
}

/// Access to `mfa_totp` and `mfa_recovery_codes`. Every row carries the id of the data key
/// that wrote it ([`DataKey::id`]).
#[derive(Clone, Debug)]
pub struct MfaRecords {
    pub(super) db: Database,
    pub(super) key: DataKey,
    pub(super) key_id: String,
}

impl MfaRecords {
    /// Over `db`, sealing with `key`.
    pub fn new(db: Database, key: DataKey) -> Self {
        let key_id = key.id();
        Self { db, key, key_id }
    }

    /// The data key.
    pub fn key(&self) -> &DataKey {
        &self.key
    }

    /// The data key's id, as stored beside each row this server writes.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// Opens a stored secret: refused when the row names another key or does not open.
    pub(super) fn open(
        &self,
        user: &str,
        sealed: &str,
        key_id: Option<&str>,
    ) -> Result<Vec<u8>, Unreadable> {
        if let Some(stored) = key_id.filter(|k| *k != self.key_id) {
            return Err(Unreadable::OtherKey {
                stored: stored.to_owned(),
                current: self.key_id.clone(),
            });
        }
        self.key
            .open(user, sealed)
            .map_err(|_| Unreadable::DoesNotOpen {
                current: self.key_id.clone(),
            })
    }

    /// The user's enrolment, if any. Fails closed: a confirmed factor that cannot be opened
    /// is [`MfaError::Unreadable`], never `None`. A pending enrolment that cannot be opened
    /// reads as none (it is no factor yet; enrolling again replaces it).
    pub async fn totp(&self, user: UserId) -> Result<Option<TotpRecord>, MfaError> {
        let row =
            sqlx::query("SELECT secret_enc, confirmed_at, key_id FROM mfa_totp WHERE user_id = $1")
                .bind(user.to_string())
                .fetch_optional(self.db.pool())
                .await
                .map_err(DbError::from)?;
        let Some(row) = row else { return Ok(None) };
        let sealed: String = row.try_get("secret_enc").map_err(DbError::from)?;
        let confirmed: Option<i64> = row.try_get("confirmed_at").map_err(DbError::from)?;
        let key_id: Option<String> = row.try_get("key_id").map_err(DbError::from)?;
        match self.open(&user.to_string(), &sealed, key_id.as_deref()) {
            Ok(plain) => Ok(Some(TotpRecord {
                secret: String::from_utf8_lossy(&plain).into_owned(),
                confirmed_at: confirmed.map(Timestamp::from_secs),
            })),
            Err(cause) if confirmed.is_some() => {
                tracing::error!(user = %user, %cause, "confirmed TOTP secret cannot be opened: refusing");
                Err(cause.into())
            }
            Err(cause) => {
                tracing::warn!(user = %user, %cause, "pending TOTP enrolment cannot be opened: ignored");
                Ok(None)
            }
        }
    }

    /// The user's confirmed factor, if any; [`MfaError::Unreadable`] when it exists but
    /// cannot be opened.
    pub async fn confirmed(&self, user: UserId) -> Result<Option<TotpRecord>, MfaError> {
        Ok(self.totp(user).await?.filter(|t| t.confirmed_at.is_some()))
    }

    /// Whether the user has a confirmed TOTP factor (whether it opens is not asked here:
    /// sign-in reads it with [`Self::confirmed`], which refuses when it does not).
    pub async fn enabled(&self, user: UserId) -> Result<bool, DbError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
        )
        .bind(user.to_string())
        .fetch_one(self.db.pool())
        .await?;
        let n: i64 = row.try_get("n")?;
        Ok(n > 0)
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
            "INSERT INTO mfa_totp (user_id, secret_enc, confirmed_at, created_at, key_id) VALUES ($1, $2, NULL, $3, $4) \
             ON CONFLICT (user_id) DO NOTHING",
        )
        .bind(user.to_string())
        .bind(sealed)
        .bind(now.as_secs())
        .bind(&self.key_id)
        .execute(self.db.pool())
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Confirms the pending enrolment and stores the recovery codes' hashes (replacing any).
    /// `false`, with nothing changed, when there is no pending enrolment any more (a
    /// concurrent confirmation won, or the factor was removed).
    pub async fn confirm(
        &self,
        user: UserId,
        codes: &[String],
        now: Timestamp,
    ) -> Result<bool, DbError> {
        let mut tx = self.db.pool().begin().await?;
        let pending = sqlx::query(
            "UPDATE mfa_totp SET confirmed_at = $1 WHERE user_id = $2 AND confirmed_at IS NULL",
        )
        .bind(now.as_secs())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
        if pending.rows_affected() != 1 {
            // Confirmed concurrently (or removed): the codes shown by that call stay valid.
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query("DELETE FROM mfa_recovery_codes WHERE user_id = $1")
            .bind(user.to_string())
            .execute(&mut *tx)
            .await?;
        for code in codes {
            sqlx::query("INSERT INTO mfa_recovery_codes (user_id, code_hash, created_at, key_id) VALUES ($1, $2, $3, $4)")
                .bind(user.to_string())
                .bind(recovery::hash(&self.key, &user.to_string(), code))
                .bind(now.as_secs())
                .bind(&self.key_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Removes the factor (pending or confirmed, whether or not it opens) and its recovery
    /// codes. Returns whether there was anything to remove.
    pub async fn remove(&self, user: UserId) -> Result<bool, DbError> {
        let mut tx = self.db.pool().begin().await?;
        let mut removed = 0;
        for table in [
            "DELETE FROM mfa_totp WHERE user_id = $1",
            "DELETE FROM mfa_recovery_codes WHERE user_id = $1",
        ] {
            removed += sqlx::query(table)
                .bind(user.to_string())
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(removed > 0)
    }

    /// Uses a recovery code: true when it existed, and it never works again (the delete
    /// decides, so two concurrent uses cannot both succeed). Fails closed: when the user's
    /// codes were keyed with another data key (so no code could ever match here), the answer
    /// is [`MfaError::Unreadable`] and nothing is deleted.
    pub async fn consume_recovery_code(&self, user: UserId, code: &str) -> Result<bool, MfaError> {
        let other = sqlx::query(
            "SELECT key_id FROM mfa_recovery_codes \
             WHERE user_id = $1 AND key_id IS NOT NULL AND key_id <> $2 LIMIT 1",
        )
        .bind(user.to_string())
        .bind(&self.key_id)
        .fetch_optional(self.db.pool())
        .await
        .map_err(DbError::from)?;
        if let Some(row) = other {
            let stored: String = row.try_get("key_id").map_err(DbError::from)?;
            tracing::error!(user = %user, key_id = %stored, "recovery codes keyed with another data key: refusing");
            return Err(Unreadable::OtherKey {
                stored,
                current: self.key_id.clone(),
            }
            .into());
        }
        let res = sqlx::query(
            "DELETE FROM mfa_recovery_codes \
             WHERE user_id = $1 AND code_hash = $2 AND (key_id = $3 OR key_id IS NULL)",
        )
        .bind(user.to_string())
        .bind(recovery::hash(&self.key, &user.to_string(), code))
        .bind(&self.key_id)
        .execute(self.db.pool())
        .await
        .map_err(DbError::from)?;
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
