//! Token revocation (RFC 7009).

use tessera_core::ids::{Jti, SessionId, UserId};
use tessera_core::time::Timestamp;

use super::{Revoker, SessionService};
use crate::app_metrics::RevocationKind;
use crate::auth::error::AuthError;

/// Which kind of token the client says it presents (RFC 7009 §2.1). Only a hint: both kinds
/// are tried whatever it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// Parses the form value; an unknown hint is ignored (`None`), as RFC 7009 allows.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "access_token" => Some(TokenTypeHint::AccessToken),
            "refresh_token" => Some(TokenTypeHint::RefreshToken),
            _ => None,
        }
    }
}

/// What a revocation did. The endpoint answers 200 whatever it is (RFC 7009 §2.2: the client
/// cannot act on the difference, and it must not learn which tokens exist).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// A genuine access token: its jti no longer works; its session lives on.
    AccessToken {
        /// Owner.
        user: UserId,
        /// Its session.
        session: SessionId,
        /// The token.
        jti: Jti,
        /// Whether it was still active before.
        was_active: bool,
    },
    /// A genuine refresh token: its whole session (refresh family and access tokens) is
    /// revoked.
    Session {
        /// Owner.
        user: UserId,
        /// The session.
        session: SessionId,
    },
    /// Not a token this server issued, or one that no longer works: nothing to do.
    Nothing,
}

impl SessionService {
    /// Revokes `token`, an access or a refresh token (`hint` only chooses which is tried
    /// first; the formats cannot be confused).
    ///
    /// - Access token: revoked only when its signature and claims verify (so nobody can
    ///   revoke someone else's token by forging one); only that jti, the session stays. An
    ///   access token past `exp` and the verifier's leeway is refused everywhere already and
    ///   the store has forgotten its grant, so there is nothing left to revoke.
    /// - Refresh token: its session is revoked only when the token is genuine — its hash is
    ///   the session's current or previous refresh token. The routing ids inside a refresh
    ///   token are not secret, so they alone never revoke anything.
    ///
    /// Errors: [`AuthError::StateStore`] when the store is unreachable (the caller must
    /// retry: nothing can be said about whether the token was revoked).
    pub async fn revoke_token(
        &self,
        token: &str,
        hint: Option<TokenTypeHint>,
        now: Timestamp,
    ) -> Result<Revocation, AuthError> {
        let result = if hint == Some(TokenTypeHint::RefreshToken) {
            match self.revoke_refresh(token, now).await? {
                Revocation::Nothing => self.revoke_access(token, now).await?,
                done => done,
            }
        } else {
            match self.revoke_access(token, now).await? {
                Revocation::Nothing => self.revoke_refresh(token, now).await?,
                done => done,
            }
        };
        match result {
            Revocation::AccessToken {
                user,
                session,
                jti,
                was_active,
            } => {
                tracing::info!(%user, %session, %jti, was_active, "access token revoked (RFC 7009)");
                if was_active {
                    self.core
                        .record_revocation(
                            RevocationKind::AccessToken,
                            Revoker::TokenHolder.token_event(user, session, jti, now),
                        )
                        .await;
                }
            }
            Revocation::Session { user, session } => {
                tracing::info!(%user, %session, "session revoked by its refresh token (RFC 7009)");
                self.core
                    .record_revocation(
                        RevocationKind::Session,
                        Revoker::TokenHolder.session_event(user, session, now),
                    )
                    .await;
            }
            Revocation::Nothing => {}
        }
        Ok(result)
    }

    async fn revoke_access(&self, token: &str, now: Timestamp) -> Result<Revocation, AuthError> {
        let ring = self.core.keys.current();
        // Refused by the verifier: not ours, forged, or expired beyond the leeway (dead
        // everywhere, and its grant is gone from the store).
        let Ok(claims) = self.core.verifier.verify(&*ring, token, now) else {
            return Ok(Revocation::Nothing);
        };
        let was_active = self
            .core
            .store
            .revoke_access_token(
                claims.sub,
                claims.sid,
                self.core
                    .store_grant((claims.jti, Timestamp::from_secs(claims.exp))),
                self.core.policy.revocation_mode,
                now,
            )
            .await?;
        Ok(Revocation::AccessToken {
            user: claims.sub,
            session: claims.sid,
            jti: claims.jti,
            was_active,
        })
    }

    /// Revokes the session when `token` is its current or previous refresh token
    /// (`AuthCore::revoke_by_refresh`).
    async fn revoke_refresh(&self, token: &str, now: Timestamp) -> Result<Revocation, AuthError> {
        Ok(match self.core.revoke_by_refresh(token, now).await? {
            Some((user, session)) => Revocation::Session { user, session },
            None => Revocation::Nothing,
        })
    }
}
