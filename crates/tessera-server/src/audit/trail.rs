//! Writing and reading the audit trail.

use std::sync::Arc;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::{EventLog, SecurityEventRecord, StoreError};

use super::event::SecurityEvent;
use crate::accounts::Database;

/// Writes events to the state store and to SQL; reads recent ones from the state store.
#[derive(Clone)]
pub struct AuditTrail {
    /// Only the event log of the state store.
    store: Arc<dyn EventLog>,
    pub(super) db: Database,
}

impl AuditTrail {
    /// Over both stores.
    pub fn new(store: Arc<dyn EventLog>, db: Database) -> Self {
        Self { store, db }
    }

    /// Records `event`. Never fails the caller: an event that cannot be written is logged
    /// (without secrets) and the action it describes stands.
    pub async fn record(&self, event: SecurityEvent) {
        let payload = match serde_json::to_string(&event) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "security event not serialisable");
                return;
            }
        };
        let record = SecurityEventRecord {
            id: event.id.to_string(),
            at: event.at_ms,
            payload,
        };
        if let Err(e) = self.store.push_event(event.user, record, event.at_ms).await {
            tracing::warn!(error = %e.chain(), kind = event.kind, "security event not written to the state store");
        }
        let sql = sqlx::query(
            "INSERT INTO security_events (id, user_id, type, at, session_id, ip, device, details) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(event.id.to_string())
        .bind(event.user.to_string())
        .bind(event.kind)
        .bind(event.at_ms.as_millis())
        .bind(event.session_id.map(|s| s.to_string()))
        .bind(event.ip.clone())
        .bind(event.device.clone())
        .bind(event.details.to_string())
        .execute(self.db.pool())
        .await;
        if let Err(e) = sql {
            tracing::warn!(error = %e, kind = event.kind, "security event not written to SQL");
        }
        tracing::info!(kind = event.kind, user = %event.user, session = ?event.session_id, "security event");
    }

    /// The user's recent events (JSON objects), newest first.
    pub async fn recent(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let records = self.store.recent_events(user, limit, before, now).await?;
        Ok(records
            .into_iter()
            .filter_map(|r| serde_json::from_str(&r.payload).ok())
            .collect())
    }

    /// The user that a session belonged to, from the durable trail (its `login` event): lets
    /// an operator act on a session id alone.
    pub async fn owner_of_session(
        &self,
        session: &str,
    ) -> Result<Option<UserId>, crate::accounts::DbError> {
        use sqlx::Row;
        let row = sqlx::query("SELECT user_id FROM security_events WHERE session_id = $1 LIMIT 1")
            .bind(session.to_owned())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row
            .and_then(|r| r.try_get::<String, _>("user_id").ok())
            .and_then(|s| s.parse().ok()))
    }
}
