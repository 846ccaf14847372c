//! How long SQL keeps security events: `security_event_retention` (default 365 days, at
//! least the refresh-token lifetime), after which they are deleted, oldest first, in
//! batches of [`BATCH`] (an index on `at` finds them), so the table never grows without
//! bound and no single statement holds the table for long. The recent-events view in the
//! state store expires on its own (90 days, 500 events per user).

use std::time::Duration;

use tessera_core::time::Timestamp;

use super::AuditTrail;
use crate::accounts::DbError;

/// Events deleted per statement.
pub const BATCH: i64 = 500;

/// How often expired events are deleted.
pub const EVERY: Duration = Duration::from_secs(600);

impl AuditTrail {
    /// Deletes at most [`BATCH`] of the events recorded before `cutoff`, oldest first;
    /// how many.
    pub async fn forget_before(&self, cutoff: Timestamp) -> Result<u64, DbError> {
        Ok(sqlx::query(
            "DELETE FROM security_events WHERE id IN \
             (SELECT id FROM security_events WHERE at < $1 ORDER BY at LIMIT $2)",
        )
        .bind(cutoff.as_millis())
        .bind(BATCH)
        .execute(self.db.pool())
        .await?
        .rows_affected())
    }

    /// Deletes every event older than `retention` at `now`, a batch at a time; how many.
    pub async fn expire(&self, retention: Duration, now: Timestamp) -> Result<u64, DbError> {
        let cutoff = now.minus(retention);
        let mut deleted = 0;
        loop {
            let n = self.forget_before(cutoff).await?;
            deleted += n;
            if n < u64::try_from(BATCH).unwrap_or(u64::MAX) {
                return Ok(deleted);
            }
        }
    }

    /// Runs [`expire`](Self::expire) every [`EVERY`] (first at once) until the process
    /// ends; a failure is logged and retried at the next tick.
    #[allow(clippy::disallowed_methods)] // a background task: an edge, reads the clock
    pub fn spawn_expiry(&self, retention: Duration) {
        let trail = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match trail.expire(retention, Timestamp::now()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "expired security events deleted"),
                    Err(e) => tracing::warn!(error = %e, "deleting expired security events failed"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use tessera_core::ids::UserId;
    use tessera_store::memory::MemoryStore;

    use super::*;
    use crate::accounts::testing::databases;

    const NOW: Timestamp = Timestamp::from_secs(1_700_000_000);
    const DAY: Duration = Duration::from_secs(86_400);

    #[tokio::test]
    async fn events_older_than_the_retention_are_deleted_in_bounded_batches() {
        for (engine, db, _keep) in databases().await {
            let trail = AuditTrail::new(Arc::new(MemoryStore::new()), db.clone());
            let user = UserId::new().to_string();
            let insert = |id: String, at: Timestamp| {
                let (db, user) = (db.clone(), user.clone());
                async move {
                    sqlx::query(
                        "INSERT INTO security_events (id, user_id, type, at, details) \
                         VALUES ($1, $2, 'login', $3, '{}')",
                    )
                    .bind(id)
                    .bind(user)
                    .bind(at.as_millis())
                    .execute(db.pool())
                    .await
                    .unwrap();
                }
            };
            // 1 200 events of 400 days ago, one just past the retention, one just inside.
            for i in 0..1200 {
                insert(format!("old-{i}"), NOW.minus(DAY * 400)).await;
            }
            insert(
                "past".into(),
                NOW.minus(DAY * 30).minus(Duration::from_millis(1)),
            )
            .await;
            insert("inside".into(), NOW.minus(DAY * 30)).await;
            let count = || async {
                let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM security_events")
                    .fetch_one(db.pool())
                    .await
                    .unwrap();
                n
            };
            // One statement deletes one batch, oldest first.
            let cutoff = NOW.minus(DAY * 30);
            assert_eq!(trail.forget_before(cutoff).await.unwrap(), 500, "{engine}");
            assert_eq!(count().await, 702, "{engine}");
            // The rest, batch by batch; the event at the boundary stays.
            assert_eq!(trail.expire(DAY * 30, NOW).await.unwrap(), 701, "{engine}");
            let (left,): (String,) = sqlx::query_as("SELECT id FROM security_events")
                .fetch_one(db.pool())
                .await
                .unwrap();
            assert_eq!(left, "inside", "{engine}");
            assert_eq!(trail.expire(DAY * 30, NOW).await.unwrap(), 0, "{engine}");
        }
    }
}
