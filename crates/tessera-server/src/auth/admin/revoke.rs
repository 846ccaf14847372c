//! An operator ends one session (`tessera revoke session`), one access token (`tessera
//! revoke token`) or every session of a user (`POST /v1/admin/users/{id}/revoke-sessions`,
//! `tessera revoke user`).

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;

use super::AdminService;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;
use crate::auth::sessions::Revoker;

impl AdminService {
    /// Ends every session of the user and bumps the token version (counted as a `user`
    /// revocation); records `sessions_revoked_by_admin`. [`AuthError::UserNotFound`] for an
    /// unknown user.
    pub async fn revoke_sessions(&self, id: UserId, now: Timestamp) -> Result<(), AuthError> {
        self.user(id).await?;
        self.core.revoke_everything(id, now).await?;
        self.core
            .audit
            .record(SecurityEvent::new(
                EventKind::SessionsRevokedByAdmin,
                id,
                now,
            ))
            .await;
        Ok(())
    }

    /// Ends one session of `user`: the same step as a user ending a device
    /// ([`SessionService::end`](crate::auth::sessions::SessionService::end)), recorded as
    /// `session_revoked` with `via: "admin"`. [`AuthError::SessionNotFound`] when it is not
    /// live.
    pub async fn revoke_session(
        &self,
        user: UserId,
        session: SessionId,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        self.sessions
            .end(user, session, Revoker::Operator, now)
            .await
    }

    /// Revokes one live access token of `user`, found by its jti: the same step as a user
    /// revoking a token, recorded as `token_revoked` with `via: "admin"`. Returns its
    /// session. [`AuthError::TokenNotFound`] when it is not live.
    pub async fn revoke_token(
        &self,
        user: UserId,
        jti: Jti,
        now: Timestamp,
    ) -> Result<SessionId, AuthError> {
        self.sessions
            .revoke_access_token(user, jti, Revoker::Operator, now)
            .await
    }
}
