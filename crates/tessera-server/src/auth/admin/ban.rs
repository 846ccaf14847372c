//! Banning (`POST /v1/admin/users/{id}/ban`, `tessera ban`) and unbanning an account.

use serde_json::json;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;

use super::AdminService;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;

impl AdminService {
    /// Bans the user: durable in SQL first (so the ban survives a state-store loss and no new
    /// session can start), then every session is revoked. This order is what closes the race
    /// with a concurrent sign-in (see `sign_in::standing`): a sign-in re-reads the account after
    /// opening its session, so it either sees the ban and ends its own session, or opened it
    /// before the ban was written and so before this revocation. A session that outlives a
    /// failed revocation here (the admin gets 503 and retries) is refused at its next
    /// refresh, which checks the ban.
    pub async fn ban(&self, id: UserId, reason: &str, now: Timestamp) -> Result<(), AuthError> {
        if !self
            .core
            .users
            .set_disabled(id, Some((now, reason)), now)
            .await?
        {
            return Err(AuthError::UserNotFound);
        }
        // The ban is durable from here on: recorded before the revocation, which may fail
        // (503) and is then retried by the operator.
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::AccountBanned, id, now)
                    .details(json!({"reason": reason})),
            )
            .await;
        self.core.revoke_everything(id, now).await?;
        Ok(())
    }

    /// Lifts a ban.
    pub async fn unban(&self, id: UserId, now: Timestamp) -> Result<(), AuthError> {
        if !self.core.users.set_disabled(id, None, now).await? {
            return Err(AuthError::UserNotFound);
        }
        self.core
            .audit
            .record(SecurityEvent::new(EventKind::AccountUnbanned, id, now))
            .await;
        Ok(())
    }
}
