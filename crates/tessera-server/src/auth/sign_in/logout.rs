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
