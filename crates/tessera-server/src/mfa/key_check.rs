//! The start-up check of the data key against the enrolled second factors.
//!
//! A server must not run with a data key that cannot open the second factors in its
//! database (keys regenerated into an emptied key table, a database restored without its
//! keys, keys imported from another instance's `keys.json`): each
//! affected sign-in would be refused at run time (see [`MfaRecords::confirmed`]), so the
//! operator is told at once instead, with the cause. Rows written before key ids were
//! recorded (`key_id` NULL) are identified by trying to open them; those that open are
//! marked with the current key's id (and their user's recovery codes with them: both were
//! written by the same confirmation, under the same key).

use std::collections::BTreeMap;
use std::fmt;

use sqlx::Row;

use super::MfaRecords;
use crate::accounts::DbError;

/// How many affected users the message names.
const NAMED_USERS: usize = 5;

/// Confirmed second factors this server's data key cannot open. Empty when all is well.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyMismatch {
    /// This server's data key id.
    pub current: String,
    /// Confirmed factors (or their recovery codes) sealed with another key: key id → users.
    pub other_keys: BTreeMap<String, u64>,
    /// Confirmed factors written before key ids were recorded that do not open.
    pub legacy: u64,
    /// Confirmed factors marked with this key that still do not open (corrupt).
    pub corrupt: u64,
    /// The first few affected users.
    pub users: Vec<String>,
}

impl KeyMismatch {
    /// Whether every confirmed factor opens.
    pub fn is_empty(&self) -> bool {
        self.other_keys.is_empty() && self.legacy == 0 && self.corrupt == 0
    }

    fn affected(&mut self, user: &str) {
        if self.users.len() < NAMED_USERS && !self.users.iter().any(|u| u == user) {
            self.users.push(user.to_owned());
        }
    }
}

/// "1 enrolled second factor was" / "3 enrolled second factors were", and the matching
/// "does"/"do".
fn factors(n: u64) -> (String, &'static str) {
    if n == 1 {
        ("1 enrolled second factor was".to_owned(), "does")
    } else {
        (format!("{n} enrolled second factors were"), "do")
    }
}

impl fmt::Display for KeyMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut causes = Vec::new();
        for (kid, n) in &self.other_keys {
            causes.push(format!(
                "{} sealed with data key {kid}, but the database holds data key {}",
                factors(*n).0,
                self.current
            ));
        }
        if self.legacy > 0 {
            let (n, does) = factors(self.legacy);
            causes.push(format!(
                "{n} sealed before key ids were recorded and {does} not open with data key {}",
                self.current
            ));
        }
        if self.corrupt > 0 {
            let (n, does) = factors(self.corrupt);
            causes.push(format!(
                "{n} sealed with data key {} but {does} not open with it (corrupt)",
                self.current
            ));
        }
        write!(
            f,
            "{}: restore the keys (table server_keys, and the master key) they were enrolled \
             with; if they are lost for good, reset those users' second factors (`tessera mfa reset <user>`) and start again \
             (affected users include {})",
            causes.join("; "),
            self.users.join(", ")
        )
    }
}

impl MfaRecords {
    /// Checks every confirmed factor against the data key (see the module docs) and marks
    /// legacy rows that open with the current key id.
    pub async fn check_key(&self) -> Result<KeyMismatch, DbError> {
        let mut report = KeyMismatch {
            current: self.key_id.clone(),
            ..KeyMismatch::default()
        };
        let rows = sqlx::query(
            "SELECT user_id, secret_enc, key_id, confirmed_at FROM mfa_totp \
             WHERE key_id IS NULL OR key_id = $1 OR confirmed_at IS NOT NULL",
        )
        .bind(&self.key_id)
        .fetch_all(self.db.pool())
        .await?;
        let mut marked = 0u64;
        for row in rows {
            let user: String = row.try_get("user_id")?;
            let sealed: String = row.try_get("secret_enc")?;
            let key_id: Option<String> = row.try_get("key_id")?;
            let confirmed = row.try_get::<Option<i64>, _>("confirmed_at")?.is_some();
            match (self.open(&user, &sealed, key_id.as_deref()), &key_id) {
                (Ok(_), None) => {
                    self.mark_legacy(&user).await?;
                    marked += 1;
                }
                (Ok(_), Some(_)) => {}
                (Err(_), _) if !confirmed => {}
                (Err(_), None) => {
                    report.legacy += 1;
                    report.affected(&user);
                }
                (Err(_), Some(kid)) if *kid == self.key_id => {
                    report.corrupt += 1;
                    report.affected(&user);
                }
                (Err(_), Some(kid)) => {
                    *report.other_keys.entry(kid.clone()).or_default() += 1;
                    report.affected(&user);
                }
            }
        }
        if marked > 0 {
            tracing::info!(
                marked,
                key_id = %self.key_id,
                "second factors written before key ids were recorded open with the data key: marked"
            );
        }
        // Recovery codes keyed with another key, for users whose TOTP row did not already
        // count (their codes could never match here).
        let codes = sqlx::query(
            "SELECT DISTINCT c.user_id AS user_id, c.key_id AS key_id FROM mfa_recovery_codes c \
             JOIN mfa_totp t ON t.user_id = c.user_id \
             WHERE c.key_id IS NOT NULL AND c.key_id <> $1 \
             AND t.confirmed_at IS NOT NULL AND t.key_id = $1",
        )
        .bind(&self.key_id)
        .fetch_all(self.db.pool())
        .await?;
        for row in codes {
            let user: String = row.try_get("user_id")?;
            let kid: String = row.try_get("key_id")?;
            *report.other_keys.entry(kid).or_default() += 1;
            report.affected(&user);
        }
        Ok(report)
    }

    async fn mark_legacy(&self, user: &str) -> Result<(), DbError> {
        let mut tx = self.db.pool().begin().await?;
        for table in [
            "UPDATE mfa_totp SET key_id = $1 WHERE user_id = $2 AND key_id IS NULL",
            "UPDATE mfa_recovery_codes SET key_id = $1 WHERE user_id = $2 AND key_id IS NULL",
        ] {
            sqlx::query(table)
                .bind(&self.key_id)
                .bind(user)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_the_keys_the_count_and_the_way_out() {
        let mut m = KeyMismatch {
            current: "NEW".into(),
            ..KeyMismatch::default()
        };
        assert!(m.is_empty());
        m.other_keys.insert("OLD".into(), 3);
        m.affected("u1");
        m.affected("u1");
        let text = m.to_string();
        assert!(!m.is_empty());
        assert!(
            text.starts_with(
                "3 enrolled second factors were sealed with data key OLD, but the database holds data key NEW"
            ),
            "{text}"
        );
        assert!(text.contains("restore the keys"), "{text}");
        assert!(text.contains("tessera mfa reset"), "{text}");
        assert!(text.ends_with("(affected users include u1)"), "{text}");
    }
}
