//! Operator actions: bans, revoking a user's sessions, statistics. Used by the admin API and
//! the CLI alike.

use serde_json::json;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::StoreStats;

use super::error::AuthError;
use super::service::AuthService;
use super::sessions::SessionView;
use crate::accounts::User;
use crate::audit::{EventKind, SecurityEvent};

/// Counts for `GET /v1/admin/stats`.
#[derive(Clone, Debug)]
pub struct Stats {
    /// From the state store's counters.
    pub store: StoreStats,
    /// Accounts in SQL.
    pub users: u64,
}

impl AuthService {
    /// The user, or [`AuthError::UserNotFound`].
    pub async fn user(&self, id: UserId) -> Result<User, AuthError> {
        self.users.by_id(id).await?.ok_or(AuthError::UserNotFound)
    }

    /// The user's live sessions (admin view: none is current).
    pub async fn user_sessions(
        &self,
        id: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionView>, AuthError> {
        self.user(id).await?;
        self.sessions(id, None, now).await
    }

    /// Ends every session of the user and bumps the token version.
    pub async fn admin_revoke_sessions(&self, id: UserId, now: Timestamp) -> Result<(), AuthError> {
        self.user(id).await?;
        self.revoke_everything(id, now).await?;
        self.audit
            .record(SecurityEvent::new(
                EventKind::SessionsRevokedByAdmin,
                id,
                now,
            ))
            .await;
        Ok(())
    }

    /// Bans the user: durable in SQL first (so the ban survives a state-store loss and no new
    /// session can start), then every session is revoked.
    pub async fn ban(&self, id: UserId, reason: &str, now: Timestamp) -> Result<(), AuthError> {
        if !self
            .users
            .set_disabled(id, Some((now, reason)), now)
            .await?
        {
            return Err(AuthError::UserNotFound);
        }
        self.revoke_everything(id, now).await?;
        self.audit
            .record(
                SecurityEvent::new(EventKind::AccountBanned, id, now)
                    .details(json!({"reason": reason})),
            )
            .await;
        Ok(())
    }

    /// Lifts a ban.
    pub async fn unban(&self, id: UserId, now: Timestamp) -> Result<(), AuthError> {
        if !self.users.set_disabled(id, None, now).await? {
            return Err(AuthError::UserNotFound);
        }
        self.audit
            .record(SecurityEvent::new(EventKind::AccountUnbanned, id, now))
            .await;
        Ok(())
    }

    /// Counters from the state store and the number of accounts.
    pub async fn stats(&self, now: Timestamp) -> Result<Stats, AuthError> {
        let store = self.store.stats(now).await?;
        let users = self.users.count().await?;
        Ok(Stats { store, users })
    }
}
