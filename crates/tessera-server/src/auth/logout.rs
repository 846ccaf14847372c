//! `POST /v1/auth/logout` and `/v1/auth/logout-all`.

use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;

use super::client::ClientInfo;
use super::error::AuthError;
use super::service::AuthService;
use crate::audit::{EventKind, SecurityEvent};

impl AuthService {
    /// Revokes the caller's session: its refresh family and every access token of it.
    pub async fn logout(
        &self,
        claims: &AccessClaims,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        self.store
            .revoke_session(claims.sub, claims.sid, now)
            .await?;
        self.record_revocation(
            crate::app_metrics::RevocationKind::Session,
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
        self.revoke_everything(claims.sub, now).await?;
        self.audit
            .record(
                SecurityEvent::new(EventKind::LogoutAll, claims.sub, now)
                    .session(claims.sid)
                    .client(client),
            )
            .await;
        Ok(())
    }

    /// Ends every session of `user` and bumps the token version, in the state store first
    /// (effective at once) and then durably in SQL (so it survives state-store loss).
    pub(crate) async fn revoke_everything(
        &self,
        user: tessera_core::ids::UserId,
        now: Timestamp,
    ) -> Result<u64, AuthError> {
        let version = self.store.revoke_user(user, now).await?;
        self.metrics
            .revocation(crate::app_metrics::RevocationKind::User);
        self.users.raise_token_version(user, version, now).await?;
        Ok(version)
    }
}
