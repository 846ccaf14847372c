//! [`AdminService`]: what an operator does, through the admin API (`/v1/admin/*`) or the CLI
//! (`tessera sessions|revoke|ban|unban|stats|mfa reset`) alike — both call these methods, so
//! both leave the same security events and count the same metrics.
//!
//! - [`revoke`]: ending one session, one access token or every session of a user.
//! - [`ban`]: banning and unbanning an account.
//! - [`mfa_reset`]: removing a user's second factor.
//! - here: looking up users and their sessions, statistics.

pub mod ban;
pub mod mfa_reset;
pub mod revoke;

use std::sync::Arc;

use tessera_core::ids::{SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_store::StoreStats;

use super::core::AuthCore;
use super::error::AuthError;
use super::sessions::{SessionService, SessionView};
use crate::accounts::User;
use crate::accounts::email::Email;

/// Counts for `GET /v1/admin/stats` and `tessera stats`.
#[derive(Clone, Debug)]
pub struct Stats {
    /// From the state store's counters.
    pub store: StoreStats,
    /// Accounts in SQL.
    pub users: u64,
    /// The state store's backend name (`memory`, `redis`): the key of its own facts.
    pub backend: &'static str,
}

/// Operator actions (see the module docs).
#[derive(Clone, Debug)]
pub struct AdminService {
    core: Arc<AuthCore>,
    /// Ending a session or revoking a token is the same step as for the user.
    sessions: SessionService,
}

impl AdminService {
    /// Over `core`, ending sessions and tokens through `sessions`.
    pub fn new(core: Arc<AuthCore>, sessions: SessionService) -> Self {
        Self { core, sessions }
    }

    /// The user, or [`AuthError::UserNotFound`].
    pub async fn user(&self, id: UserId) -> Result<User, AuthError> {
        self.core.user(id).await
    }

    /// The user with this (normalised) email, if any.
    pub async fn user_by_email(&self, email: &Email) -> Result<Option<User>, AuthError> {
        Ok(self.core.users.by_email(email).await?)
    }

    /// The user a session belonged to, from the durable trail (its `login` event): lets an
    /// operator act on a session id alone.
    pub async fn owner_of_session(&self, session: SessionId) -> Result<Option<UserId>, AuthError> {
        Ok(self
            .core
            .audit
            .owner_of_session(&session.to_string())
            .await?)
    }

    /// The user's live sessions (admin view: none is current).
    pub async fn user_sessions(
        &self,
        id: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionView>, AuthError> {
        self.user(id).await?;
        self.sessions.list(id, None, now).await
    }

    /// Counters from the state store and the number of accounts.
    pub async fn stats(&self, now: Timestamp) -> Result<Stats, AuthError> {
        let store = self.core.store.stats(now).await?;
        let users = self.core.users.count().await?;
        Ok(Stats {
            store,
            users,
            backend: self.core.store.backend(),
        })
    }
}
