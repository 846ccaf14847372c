//! Opening a session: the one way a session starts (after a password alone, or after the
//! second step), with its first token pair.

use serde_json::json;
use tessera_core::ids::SessionId;
use tessera_core::refresh::RefreshToken;
use tessera_core::time::Timestamp;
use tessera_store::{NewSession, SessionLimits};

use super::SignInService;
use crate::accounts::User;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;
use crate::auth::fingerprint::Fingerprint;
use crate::auth::pair::TokenPair;
use crate::device::ClientInfo;

impl SignInService {
    /// Opens a session for an authenticated user and mints its first token pair. The session
    /// and its token are bound to `fingerprint` as [`Fingerprinting`] decides.
    ///
    /// [`Fingerprinting`]: crate::auth::fingerprint::Fingerprinting
    pub(crate) async fn open_session(
        &self,
        user: &User,
        client: ClientInfo,
        fingerprint: Option<&Fingerprint>,
        now: Timestamp,
    ) -> Result<TokenPair, AuthError> {
        let session = SessionId::new();
        let refresh = RefreshToken::generate(user.id, session, &self.core.refresh_key);
        let grant = self.core.issuer.grant(now);
        let absolute_expiry = now.plus(self.core.policy.absolute_lifetime);
        let created = self
            .core
            .store
            .create_session(
                NewSession {
                    user: user.id,
                    session,
                    refresh: refresh.hash(),
                    access: self.core.store_grant(grant),
                    token_version: user.token_version,
                    limits: SessionLimits {
                        idle_timeout: self.core.policy.idle_timeout,
                        absolute_expiry,
                    },
                    max_sessions: self.core.policy.max_sessions,
                    attributes: client.to_attributes(),
                    binding: self.core.policy.fingerprint.session_binding(fingerprint),
                },
                now,
            )
            .await?;
        // Re-read the account now that the session exists (see `standing`): a ban or a
        // password change that raced this sign-in ends it here or by its own revocation.
        self.confirm_sign_in(user, session, created.token_version, now)
            .await?;
        let access = self.core.sign_access(
            user.id,
            session,
            created.token_version,
            client.amr.clone(),
            fingerprint,
            grant,
            now,
        )?;
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::Login, user.id, now)
                    .session(session)
                    .client(&client)
                    .details(json!({"amr": client.amr})),
            )
            .await;
        for evicted in &created.evicted {
            self.core
                .audit
                .record(
                    SecurityEvent::new(EventKind::SessionEvicted, user.id, now)
                        .session(*evicted)
                        .details(json!({"reason": "session limit reached", "by_session": session})),
                )
                .await;
        }
        let refresh_deadline = now.plus(self.core.policy.idle_timeout).min(absolute_expiry);
        Ok(TokenPair {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: now.until(grant.1).as_secs(),
            refresh_token: refresh.encode(),
            refresh_expires_in: now.until(refresh_deadline).as_secs(),
            session_id: session,
        })
    }
}
