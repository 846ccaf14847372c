//! The bookkeeping every revocation shares, and ending every session of a user.

use tessera_core::ids::{SessionId, UserId};
use tessera_core::refresh::RefreshToken;
use tessera_core::time::Timestamp;

use super::AuthCore;
use crate::app_metrics::RevocationKind;
use crate::audit::SecurityEvent;
use crate::auth::error::AuthError;
use crate::mfa::trusted;

impl AuthCore {
    /// Counts a revocation of `kind` in `tessera_revocations_total` and records its security
    /// `event`: every revocation path (user, operator, RFC 7009) does both, through here, so
    /// the metric and the trail never disagree.
    pub(crate) async fn record_revocation(&self, kind: RevocationKind, event: SecurityEvent) {
        self.metrics.revocation(kind);
        self.audit.record(event).await;
    }

    /// Forgets every trusted device of `user`, then ends every session and bumps the token
    /// version, in the state store first (effective at once) and then durably in SQL (so it
    /// survives state-store loss): signing out everywhere (the user's, an operator's, a
    /// ban's) also ends what would let a remembered browser skip the second factor, so a
    /// stolen device cookie with the password does not sign straight back in. The devices
    /// go first: while they fail, the caller's token still works and can retry; and a
    /// sign-in that trusted a device before they went and opens its session after the bump
    /// is refused by `confirm_sign_in`. Counted as one `user` revocation; the caller
    /// records its own event.
    pub(crate) async fn revoke_everything(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<u64, AuthError> {
        self.store.map_clear(user, trusted::MAP).await?;
        let version = self.store.revoke_user(user, now).await?;
        self.metrics.revocation(RevocationKind::User);
        self.users.bump_token_version(user, version, now).await?;
        Ok(version)
    }

    /// Revokes the session whose current or previous refresh token is `presented`, and
    /// names it; `None` when it revoked nothing. A token whose generation tag does not
    /// verify never reaches the store; the store compares the hash atomically with the
    /// revocation, so a rotated-away token revokes nothing. Holding the token is the proof
    /// (RFC 7009, and a browser signing out with its refresh cookie): a session bound to a
    /// fingerprint is revoked without it.
    pub(crate) async fn revoke_by_refresh(
        &self,
        presented: &str,
        now: Timestamp,
    ) -> Result<Option<(UserId, SessionId)>, AuthError> {
        let Ok(token) = RefreshToken::parse(presented, &self.refresh_key) else {
            return Ok(None);
        };
        let (user, session) = (token.user(), token.session());
        let revoked = self
            .store
            .revoke_session_by_refresh(user, session, &token.hash(), now)
            .await?;
        Ok(revoked.then_some((user, session)))
    }
}
