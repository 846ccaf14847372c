//! Operator actions: bans, revoking a user's sessions, statistics. Used by the admin API and
//! the CLI alike.

use serde_json::json;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_store::{AccessGrant, StoreStats};

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

    /// Ends one session of `user` (an operator's `tessera revoke session`): the same store
    /// step as a user ending a device (the guard notice is published by it), counted, and
    /// recorded as `session_revoked` with `via: "admin"`. [`AuthError::SessionNotFound`] when
    /// it is not live.
    pub async fn admin_revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        if !self.store.revoke_session(user, session, now).await? {
            return Err(AuthError::SessionNotFound);
        }
        self.record_revocation(
            crate::app_metrics::RevocationKind::Session,
            SecurityEvent::new(EventKind::SessionRevoked, user, now)
                .session(session)
                .details(json!({"via": "admin"})),
        )
        .await;
        Ok(())
    }

    /// Revokes one live access token of `user` (an operator's `tessera revoke token`): found
    /// by its jti, revoked in the configured mode, counted, recorded as `token_revoked` with
    /// `via: "admin"`. Returns its session. [`AuthError::TokenNotFound`] when it is not live.
    pub async fn admin_revoke_token(
        &self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Result<SessionId, AuthError> {
        let (session, expires_at) = self
            .store
            .find_access_token(user, jti, now)
            .await?
            .ok_or(AuthError::TokenNotFound)?;
        self.store
            .revoke_access_token(
                user,
                session,
                AccessGrant { jti, expires_at },
                self.policy.revocation_mode,
                now,
            )
            .await?;
        self.record_revocation(
            crate::app_metrics::RevocationKind::AccessToken,
            SecurityEvent::new(EventKind::TokenRevoked, user, now)
                .session(session)
                .details(json!({"jti": jti, "via": "admin"})),
        )
        .await;
        Ok(session)
    }

    /// Bans the user: durable in SQL first (so the ban survives a state-store loss and no new
    /// session can start), then every session is revoked. This order is what closes the race
    /// with a concurrent sign-in (see `standing`): a sign-in re-reads the account after
    /// opening its session, so it either sees the ban and ends its own session, or opened it
    /// before the ban was written and so before this revocation. A session that outlives a
    /// failed revocation here (the admin gets 503 and retries) is refused at its next
    /// refresh, which checks the ban.
    pub async fn ban(&self, id: UserId, reason: &str, now: Timestamp) -> Result<(), AuthError> {
        if !self
            .users
            .set_disabled(id, Some((now, reason)), now)
            .await?
        {
            return Err(AuthError::UserNotFound);
        }
        // The ban is durable from here on: recorded before the revocation, which may fail
        // (503) and is then retried by the operator.
        self.audit
            .record(
                SecurityEvent::new(EventKind::AccountBanned, id, now)
                    .details(json!({"reason": reason})),
            )
            .await;
        self.revoke_everything(id, now).await?;
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
