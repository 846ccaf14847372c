//! The durable standing of an account (SQL: ban, password hash, token version) checked
//! against a session the state store just opened or rotated.
//!
//! Why a sign-in re-reads the account *after* opening its session: every action that must
//! end a user's sessions writes SQL first and revokes in the state store after (a ban sets
//! `disabled_at`, then `revoke_user`; a reset or change writes the new password hash, then
//! revokes again). A sign-in that read the account before that SQL write and opens its
//! session (step b) then re-reads the account (step c) ends up in one of two cases:
//! - c sees the new SQL state: the sign-in revokes the session it just opened and refuses;
//! - c does not: then b < c < the SQL write < the store revocation, so the revocation,
//!   which ends every session that exists when it runs, ends this one.
//!
//! Either way no session opened by the racing sign-in is left alive. A refresh cannot race
//! that way (it opens nothing), but a session can outlive a ban or a durable version bump
//! whose state-store step failed: a successful rotation is therefore checked too.

use tessera_core::ids::{SessionId, UserId};
use tessera_core::time::Timestamp;

use super::error::AuthError;
use super::service::AuthService;
use crate::accounts::User;

impl AuthService {
    /// After `open_session` created `session` for `signed_in` (the account as read when the
    /// credentials were checked): revokes it and refuses when the account has been banned
    /// ([`AuthError::AccountDisabled`]), deleted, or its password changed meanwhile
    /// ([`AuthError::InvalidCredentials`]: the credentials checked are no longer current).
    pub(crate) async fn confirm_sign_in(
        &self,
        signed_in: &User,
        session: SessionId,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let refusal = match self.users.by_id(signed_in.id).await {
            Ok(Some(u)) if u.disabled_at.is_some() => Some(AuthError::AccountDisabled),
            Ok(Some(u)) if u.password_hash != signed_in.password_hash => {
                Some(AuthError::InvalidCredentials)
            }
            Ok(Some(_)) => None,
            Ok(None) => Some(AuthError::InvalidCredentials),
            // Cannot tell: the session must not outlive a ban it could not see.
            Err(e) => Some(AuthError::Database(e)),
        };
        let Some(refusal) = refusal else {
            return Ok(());
        };
        self.store
            .revoke_session(signed_in.id, session, now)
            .await?;
        Err(refusal)
    }

    /// After a successful rotation of `session` (whose token version is `generation`):
    /// refuses a banned or deleted account ([`AuthError::AccountDisabled`], the session
    /// revoked), and a session older than the durable token version — a revocation whose
    /// state-store step failed after SQL recorded it — with every session of the user
    /// revoked in the store as that revocation meant ([`AuthError::InvalidRefreshToken`]).
    pub(crate) async fn confirm_refresh(
        &self,
        user: UserId,
        session: SessionId,
        generation: u64,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        // Refused whatever the revocation does: the successor is never handed out.
        let (revoked, refusal) = match self.users.by_id(user).await? {
            Some(u) if u.disabled_at.is_none() && u.token_version <= generation => return Ok(()),
            Some(u) if u.disabled_at.is_none() => (
                self.revoke_everything(user, now).await.map(drop),
                AuthError::InvalidRefreshToken,
            ),
            _ => (
                self.store
                    .revoke_session(user, session, now)
                    .await
                    .map(drop)
                    .map_err(AuthError::from),
                AuthError::AccountDisabled,
            ),
        };
        if let Err(e) = revoked {
            tracing::warn!(error = %e, %user, %session, "refused refresh: the session could not be revoked");
        }
        Err(refusal)
    }
}
