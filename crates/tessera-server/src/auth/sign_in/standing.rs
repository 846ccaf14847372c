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
//! Either way no session opened by the racing sign-in is left alive. "Sign out everywhere"
//! runs the other way round (the state store's version first, then SQL's), so a sign-in
//! whose session took a version above the one it read (step b after the store's bump) is
//! refused the same way, whether or not SQL has caught up by step c.
//!
//! A refresh cannot race
//! that way (it opens nothing), but a session can outlive a ban or a durable version bump
//! whose state-store step failed: a successful rotation is therefore checked too.

use tessera_core::ids::{SessionId, UserId};
use tessera_core::time::Timestamp;

use super::SignInService;
use crate::accounts::User;
use crate::auth::error::AuthError;
use crate::durable::judge::{Judgement, Presented};

impl SignInService {
    /// After `open_session` created `session` for `signed_in` (the account as read when the
    /// credentials were checked) at the store's token version `opened_at_version`: revokes
    /// it and refuses when the account has been banned ([`AuthError::AccountDisabled`]),
    /// deleted, or its password changed meanwhile, or when every session of the user was
    /// revoked meanwhile (the store's version is above the one read), all
    /// ([`AuthError::InvalidCredentials`]: the credentials checked are no longer current).
    /// A store version ahead of SQL's is written to SQL first, so a raise whose SQL step
    /// failed costs one refused sign-in, not every later one.
    pub(crate) async fn confirm_sign_in(
        &self,
        signed_in: &User,
        session: SessionId,
        opened_at_version: u64,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let revoked_meanwhile = opened_at_version > signed_in.token_version;
        let healed = if revoked_meanwhile {
            self.core
                .users
                .raise_token_version(signed_in.id, opened_at_version, now)
                .await
        } else {
            Ok(())
        };
        let reread = match healed {
            Ok(()) => self.core.users.by_id(signed_in.id).await,
            Err(e) => Err(e),
        };
        let refusal = match reread {
            Ok(Some(u)) if u.disabled_at.is_some() => Some(AuthError::AccountDisabled),
            Ok(Some(u)) if u.password_hash != signed_in.password_hash => {
                Some(AuthError::InvalidCredentials)
            }
            Ok(Some(_)) if revoked_meanwhile => Some(AuthError::InvalidCredentials),
            Ok(Some(_)) => None,
            Ok(None) => Some(AuthError::InvalidCredentials),
            // Cannot tell: the session must not outlive a ban it could not see.
            Err(e) => Some(AuthError::Database(e)),
        };
        let Some(refusal) = refusal else {
            return Ok(());
        };
        self.core
            .store
            .revoke_session(signed_in.id, session, now)
            .await?;
        Err(refusal)
    }

    /// Before rotating a refresh token of `user`'s `session`: the account, unless it is
    /// banned or deleted ([`AuthError::AccountDisabled`], the session revoked, best effort).
    /// Read before the rotation so that a database error leaves the token unused. A ban
    /// that lands after this read is still safe: it writes SQL first and revokes in the
    /// store after, and that revocation ends the session this rotation renews.
    ///
    /// With the durable copy on and a token whose MAC-verified refresh generation is
    /// known (`presented`), the same statement reads the session's row, and the copy's
    /// [`Judgement`] comes back with the account (`CopyView::judge`); otherwise it is
    /// [`Judgement::Ask`].
    pub(crate) async fn account_before_refresh(
        &self,
        user: UserId,
        session: SessionId,
        presented: Option<Presented>,
        now: Timestamp,
    ) -> Result<(User, Judgement), AuthError> {
        let (account, judgement) = match (&self.core.durable, presented) {
            (Some(durable), Some(presented)) => {
                match durable.rows().account_for_refresh(user, session).await? {
                    Some((account, copy)) => {
                        let judgement =
                            copy.judge(session, presented, self.core.policy.reuse_grace, now);
                        (Some(account), judgement)
                    }
                    None => (None, Judgement::Ask),
                }
            }
            _ => (self.core.users.by_id(user).await?, Judgement::Ask),
        };
        match account {
            Some(u) if u.disabled_at.is_none() => Ok((u, judgement)),
            _ => {
                if let Err(e) = self.core.store.revoke_session(user, session, now).await {
                    tracing::warn!(error = %e.chain(), %user, %session, "refused refresh: the session could not be revoked");
                }
                Err(AuthError::AccountDisabled)
            }
        }
    }

    /// After a successful rotation whose store token version is `generation`: a session
    /// older than `account`'s durable token version — a revocation whose state-store step
    /// failed after SQL recorded it — is refused ([`AuthError::InvalidRefreshToken`]) and
    /// every session of the user revoked in the store, as that revocation meant.
    pub(crate) async fn confirm_version(
        &self,
        account: &User,
        generation: u64,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        if account.token_version <= generation {
            return Ok(());
        }
        if let Err(e) = self.core.revoke_everything(account.id, now).await {
            tracing::warn!(error = %e, user = %account.id, "refused refresh: the sessions could not be revoked");
        }
        Err(AuthError::InvalidRefreshToken)
    }

    /// After a successful rotation of a legacy (untagged) token of `user`'s `session`
    /// (whose token version is `generation`): [`account_before_refresh`] and
    /// [`confirm_version`] in one, read after the rotation because an untagged token does
    /// not prove whose it is until the store matched its hash.
    ///
    /// [`account_before_refresh`]: Self::account_before_refresh
    /// [`confirm_version`]: Self::confirm_version
    pub(crate) async fn confirm_refresh(
        &self,
        user: UserId,
        session: SessionId,
        generation: u64,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let (account, _) = self
            .account_before_refresh(user, session, None, now)
            .await?;
        self.confirm_version(&account, generation, now).await
    }
}
