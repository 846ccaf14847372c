//! `POST /v1/auth/logout` and `/v1/auth/logout-all`.

use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;

use super::error::AuthError;
use super::service::AuthService;

impl AuthService {
    /// Revokes the caller's session: its refresh family and every access token of it.
    pub async fn logout(&self, claims: &AccessClaims, now: Timestamp) -> Result<(), AuthError> {
        self.store
            .revoke_session(claims.sub, claims.sid, now)
            .await?;
        tracing::info!(user = %claims.sub, session = %claims.sid, "signed out");
        Ok(())
    }

    /// Revokes every session of the caller and bumps the token version, in the state store
    /// first (effective at once) and then durably in SQL (so it survives state-store loss).
    pub async fn logout_all(&self, claims: &AccessClaims, now: Timestamp) -> Result<(), AuthError> {
        let version = self.store.revoke_user(claims.sub, now).await?;
        self.users
            .raise_token_version(claims.sub, version, now)
            .await?;
        tracing::info!(user = %claims.sub, token_version = version, "signed out everywhere");
        Ok(())
    }
}
