//! [`EventLog`]: the recent security events of each user.

use async_trait::async_trait;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use crate::error::StoreError;
use crate::model::SecurityEventRecord;

/// A short, bounded log of security events per user (what the "recent activity" page shows;
/// the durable audit record is SQL's, not this).
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Records a recent security event of `user`. Events are kept [`EVENT_RETENTION`](crate::EVENT_RETENTION) and at
    /// most [`EVENT_MAX_PER_USER`](crate::EVENT_MAX_PER_USER) per user: the push drops those past retention at `now` and
    /// then the oldest beyond the maximum.
    ///
    /// Atomic (`push_event.lua`): insert and trim together. No notices.
    async fn push_event(
        &self,
        user: UserId,
        event: SecurityEventRecord,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// The user's recent security events, newest first (ties: the later pushed first), at
    /// most `limit`, only those strictly before `before` when given, never older than
    /// [`EVENT_RETENTION`](crate::EVENT_RETENTION) at `now`.
    ///
    /// Read only (on Redis one plain `ZRANGE … BYSCORE REV LIMIT`), so one consistent page.
    async fn recent_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<SecurityEventRecord>, StoreError>;
}
