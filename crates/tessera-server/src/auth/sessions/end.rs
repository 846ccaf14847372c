//! Ending one session and revoking one access token: the store step, the
//! `tessera_revocations_total` count and the security event, whoever asks ([`Revoker`]).

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;
use tessera_store::AccessGrant;

use super::{Revoker, SessionService};
use crate::app_metrics::RevocationKind;
use crate::auth::error::AuthError;
use crate::device::ClientInfo;

impl SessionService {
    /// Signs one of the caller's devices out: its refresh token and access tokens die.
    /// Another user's session id is [`AuthError::SessionNotFound`], like an unknown one.
    pub async fn end_session(
        &self,
        caller: &AccessClaims,
        session: SessionId,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        self.end(caller.sub, session, Revoker::User { caller, client }, now)
            .await
    }

    /// Revokes one of the caller's access tokens; its session stays. Another user's jti is
    /// [`AuthError::TokenNotFound`], like an unknown or expired one.
    pub async fn revoke_own_token(
        &self,
        caller: &AccessClaims,
        jti: Jti,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        self.revoke_access_token(caller.sub, jti, Revoker::User { caller, client }, now)
            .await
            .map(|_| ())
    }

    /// Ends `user`'s `session` (its refresh family and access tokens; the store publishes
    /// the guard notice), counts a `session` revocation and records `session_revoked` as
    /// `by` says. [`AuthError::SessionNotFound`] when it is not a live session of `user`.
    pub async fn end(
        &self,
        user: UserId,
        session: SessionId,
        by: Revoker<'_>,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        if !self.core.store.revoke_session(user, session, now).await? {
            return Err(AuthError::SessionNotFound);
        }
        self.core
            .record_revocation(
                RevocationKind::Session,
                by.session_event(user, session, now),
            )
            .await;
        Ok(())
    }

    /// Revokes `user`'s live access token `jti` in the configured mode (its session stays),
    /// counts an `access_token` revocation and records `token_revoked` as `by` says. Returns
    /// its session. [`AuthError::TokenNotFound`] when it is not a live token of `user`.
    pub async fn revoke_access_token(
        &self,
        user: UserId,
        jti: Jti,
        by: Revoker<'_>,
        now: Timestamp,
    ) -> Result<SessionId, AuthError> {
        let (session, expires_at) = self
            .core
            .store
            .find_access_token(user, jti, now)
            .await?
            .ok_or(AuthError::TokenNotFound)?;
        self.core
            .store
            .revoke_access_token(
                user,
                session,
                AccessGrant { jti, expires_at },
                self.core.policy.revocation_mode,
                now,
            )
            .await?;
        self.core
            .record_revocation(
                RevocationKind::AccessToken,
                by.token_event(user, session, jti, now),
            )
            .await;
        Ok(session)
    }
}
