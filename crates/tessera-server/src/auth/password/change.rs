//! `POST /v1/password/change`: a signed-in user sets a new password.

use serde_json::json;
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;
use zeroize::Zeroizing;

use super::Passwords;
use crate::accounts::password::check_strength;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;
use crate::device::ClientInfo;
use crate::mfa::trusted;

impl Passwords {
    /// `POST /v1/password/change`: needs the current password; revokes every other session
    /// of the caller and every trusted device. The caller's session stays.
    ///
    /// Order: every other session is revoked in one atomic store step
    /// (`revoke_user_except`: a concurrent refresh or sign-in sees all of them alive or all
    /// gone) *before* the SQL write, so a store failure answers 503 with nothing changed;
    /// then the password hash (compare-and-set); then the same step again for a sign-in with
    /// the old password that opened its session in between (one that re-read the account
    /// after the SQL write ended its own session, see `sign_in::standing`). The token version is not
    /// bumped: that would end the caller's access tokens too.
    pub async fn change(
        &self,
        caller: &AccessClaims,
        current: Zeroizing<String>,
        new_password: Zeroizing<String>,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let user = self
            .core
            .users
            .by_id(caller.sub)
            .await?
            .ok_or(AuthError::TokenRevoked)?;
        self.core
            .prove_password(&user, current, client, "password_change", now)
            .await?;
        check_strength(&new_password, &[user.email.as_str()])?;
        let new_hash = self.core.hasher.hash(new_password).await?;
        let first = self
            .core
            .store
            .revoke_user_except(user.id, caller.sid, now)
            .await?;
        if !self
            .core
            .users
            .set_password(user.id, &new_hash, &user.password_hash, now)
            .await?
        {
            // Changed concurrently: the password checked above is no longer current.
            return Err(AuthError::InvalidCredentials);
        }
        let again = self
            .core
            .store
            .revoke_user_except(user.id, caller.sid, now)
            .await?;
        let revoked = first + again;
        for _ in 0..revoked {
            self.core
                .metrics
                .revocation(crate::app_metrics::RevocationKind::Session);
        }
        self.core.store.map_clear(user.id, trusted::MAP).await?;
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::PasswordChanged, user.id, now)
                    .session(caller.sid)
                    .client(client)
                    .details(json!({"sessions_revoked": revoked})),
            )
            .await;
        Ok(())
    }
}
