//! `POST /v1/auth/logout` and `/v1/auth/logout-all`.

use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;

use super::SignInService;
use crate::app_metrics::RevocationKind;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;
use crate::device::ClientInfo;

impl SignInService {
    /// Revokes the caller's session: its refresh family and every access token of it.
    pub async fn logout(
        &self,
        claims: &AccessClaims,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        self.core
            .store
            .revoke_session(claims.sub, claims.sid, now)
            .await?;
        self.core
            .record_revocation(
                RevocationKind::Session,
                SecurityEvent::new(EventKind::Logout, claims.sub, now)
                    .session(claims.sid)
                    .client(client),
            )
            .await;
        Ok(())
    }

    /// Signs out a browser whose access token can no longer authenticate (expired, or
    /// refused after a state-store loss) with the refresh token of its cookie
    /// (`AuthCore::revoke_by_refresh`). `Ok(false)` when it revoked nothing. The caller has
    /// checked the CSRF header against the token's session.
    pub async fn logout_by_refresh(
        &self,
        presented: &str,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<bool, AuthError> {
        let Some((user, session)) = self.core.revoke_by_refresh(presented, now).await? else {
            return Ok(false);
        };
        self.core
            .record_revocation(
                RevocationKind::Session,
                SecurityEvent::new(EventKind::Logout, user, now)
                    .session(session)
                    .client(client),
            )
            .await;
        Ok(true)
    }

    /// Revokes every session of the caller and bumps the token version.
    pub async fn logout_all(
        &self,
        claims: &AccessClaims,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        self.core.revoke_everything(claims.sub, now).await?;
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::LogoutAll, claims.sub, now)
                    .session(claims.sid)
                    .client(client),
            )
            .await;
        Ok(())
    }
}
