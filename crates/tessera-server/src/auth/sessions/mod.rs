//! [`SessionService`]: a user's sessions (devices) and access tokens — listing them
//! ([`view`]), ending one or revoking one token ([`end`]: the one way either is done, for
//! the user, an operator and RFC 7009 alike), RFC 7009 revocation by the token alone
//! ([`oauth_revoke`]), and the user's security events.

pub mod end;
pub mod oauth_revoke;
pub mod view;

use std::sync::Arc;

use serde_json::json;
use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;

use super::core::AuthCore;
use super::error::AuthError;
use crate::audit::{EventKind, SecurityEvent};
use crate::device::ClientInfo;

pub use view::{DeviceView, SessionView};

/// Listing and ending sessions, revoking access tokens.
#[derive(Clone, Debug)]
pub struct SessionService {
    core: Arc<AuthCore>,
}

impl SessionService {
    /// Over `core`.
    pub fn new(core: Arc<AuthCore>) -> Self {
        Self { core }
    }

    /// The user's recent security events (JSON objects), newest first: at most `limit`,
    /// only those strictly older than `before` when given.
    pub async fn security_events(
        &self,
        user: UserId,
        limit: usize,
        before: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<Vec<serde_json::Value>, AuthError> {
        Ok(self.core.audit.recent(user, limit, before, now).await?)
    }
}

/// Who ends a session or revokes an access token: it decides only what the security event
/// says, never what is revoked.
#[derive(Clone, Copy, Debug)]
pub enum Revoker<'a> {
    /// The user, from one of their sessions (`DELETE /v1/sessions/{id}`,
    /// `DELETE /v1/tokens/{jti}`): the event carries the caller's device, and for a session
    /// `by_session`.
    User {
        /// The caller's token.
        caller: &'a AccessClaims,
        /// The caller's device.
        client: &'a ClientInfo,
    },
    /// An operator (the admin API or the CLI): `via: "admin"`.
    Operator,
    /// A client holding the token (RFC 7009, `POST /oauth2/revoke`): `via: "oauth2_revoke"`.
    TokenHolder,
}

impl Revoker<'_> {
    /// The `session_revoked` event of `user`'s `session`.
    fn session_event(self, user: UserId, session: SessionId, now: Timestamp) -> SecurityEvent {
        let event = SecurityEvent::new(EventKind::SessionRevoked, user, now).session(session);
        match self {
            Revoker::User { caller, client } => event
                .client(client)
                .details(json!({"by_session": caller.sid})),
            Revoker::Operator => event.details(json!({"via": "admin"})),
            Revoker::TokenHolder => event.details(json!({"via": "oauth2_revoke"})),
        }
    }

    /// The `token_revoked` event of `user`'s access token `jti` of `session`.
    fn token_event(
        self,
        user: UserId,
        session: SessionId,
        jti: Jti,
        now: Timestamp,
    ) -> SecurityEvent {
        let event = SecurityEvent::new(EventKind::TokenRevoked, user, now).session(session);
        match self {
            Revoker::User { client, .. } => event.client(client).details(json!({"jti": jti})),
            Revoker::Operator => event.details(json!({"jti": jti, "via": "admin"})),
            Revoker::TokenHolder => event.details(json!({"jti": jti, "via": "oauth2_revoke"})),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn an_operator_and_a_token_holder_are_named_in_the_details_only() {
        let (user, session, jti) = (UserId::new(), SessionId::new(), Jti::new());
        let now = Timestamp::from_secs(1_800_000_000);
        for (by, via) in [
            (Revoker::Operator, "admin"),
            (Revoker::TokenHolder, "oauth2_revoke"),
        ] {
            let ended = by.session_event(user, session, now);
            assert_eq!(ended.kind, "session_revoked");
            assert_eq!(ended.session_id, Some(session));
            assert_eq!((ended.ip, ended.device), (None, None));
            assert_eq!(ended.details, json!({"via": via}));
            let revoked = by.token_event(user, session, jti, now);
            assert_eq!(revoked.kind, "token_revoked");
            assert_eq!(revoked.session_id, Some(session));
            assert_eq!(revoked.details, json!({"jti": jti, "via": via}));
        }
    }
}
