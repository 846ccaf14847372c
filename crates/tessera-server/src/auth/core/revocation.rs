//! The bookkeeping every revocation shares, and ending every session of a user.

use tessera_core::ids::UserId;
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

    /// Ends every session of `user` and bumps the token version, in the state store first
    /// (effective at once) and then durably in SQL (so it survives state-store loss), and
    /// forgets every trusted device: signing out everywhere (the user's, an operator's, a
    /// ban's) also ends what would let a remembered browser skip the second factor, so a
    /// stolen device cookie with the password does not sign straight back in. Counted as one
    /// `user` revocation; the caller records its own event.
    pub(crate) async fn revoke_everything(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<u64, AuthError> {
        let version = self.store.revoke_user(user, now).await?;
        self.metrics.revocation(RevocationKind::User);
        // The durable version before the devices: once the store has revoked, the caller's
        // token is dead and cannot retry, so nothing may stand between the two.
        self.users.raise_token_version(user, version, now).await?;
        self.store.map_clear(user, trusted::MAP).await?;
        Ok(version)
    }
}
