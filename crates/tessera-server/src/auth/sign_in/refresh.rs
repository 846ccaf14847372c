//! `POST /v1/auth/refresh`.

use tessera_core::refresh::{RefreshToken, SuccessorSeed};
use tessera_core::time::Timestamp;
use tessera_store::{Rotation, RotationOutcome, StoredHash};

use super::SignInService;
use crate::app_metrics::RefreshOutcome;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;
use crate::auth::fingerprint::{Fingerprint, Fingerprinting};
use crate::auth::pair::TokenPair;
use crate::device::ClientInfo;
use crate::durable::judge::{Judgement, Presented};

impl SignInService {
    /// Rotates a refresh token. The successor is derived from the presented token, the refresh
    /// key and a fresh seed; the store decides atomically what the presentation means:
    /// - current token: the successor becomes current and is returned;
    /// - previous token inside the grace window (a concurrent-refresh race): the *same*
    ///   successor as the winning call is re-derived from the stored seed and returned, so
    ///   the family never forks;
    /// - previous token later, or a token of an older generation than the family's current
    ///   one at any time: theft; the store has revoked the session (the generation is only
    ///   believed once its MAC tag verified, so guessing ids cannot trigger this);
    /// - anything else (including a session bound to a fingerprint cookie the request does
    ///   not carry): invalid, nothing changes.
    ///
    /// Every success also mints a fresh access token registered with the session, carrying
    /// the sign-in's `amr`.
    ///
    /// `client` is called only when the refresh becomes a security event (theft): parsing a
    /// `User-Agent` costs more than the rest of a rotation, so it is not done for every one.
    pub async fn refresh(
        &self,
        presented: &str,
        fingerprint: Option<&Fingerprint>,
        client: impl FnOnce() -> ClientInfo,
        now: Timestamp,
    ) -> Result<TokenPair, AuthError> {
        // A tag that does not verify is invalid like a malformed token: the store (and so the
        // family) is never asked about a generation the key did not vouch for.
        let Ok(token) = RefreshToken::parse(presented, &self.core.refresh_key) else {
            self.core.metrics.refresh(RefreshOutcome::Invalid);
            return Err(AuthError::InvalidRefreshToken);
        };
        // The account's durable standing, read *before* the rotation, so that a database
        // failure leaves the presented token unused (a retry works) instead of rotating it
        // away and answering 5xx. Only for a token whose tag verified: the key vouches that
        // this server issued it for that user, so garbage never costs a SQL read and a ban is
        // never revealed to someone who merely knows a user id. A legacy (untagged) token is
        // checked after the rotation instead (`standing::confirm_refresh`).
        // With the durable copy on, the same read judges the token by the copy: a state
        // store that came back with older data must not rotate a revoked session or a
        // token rotated away since (`durable::judge`).
        let binding = Fingerprinting::presented_binding(fingerprint);
        let account = match token.generation() {
            Some(generation) => {
                let presented = Presented {
                    generation,
                    binding: binding.as_ref().map(StoredHash::of),
                };
                let (account, judgement) = self
                    .account_before_refresh(token.user(), token.session(), Some(presented), now)
                    .await?;
                if judgement != Judgement::Ask {
                    // Ended in the store as well, so that the access tokens a store with
                    // older data allowlists again die too. An unreachable store answers
                    // 503, as every refresh does while it is down (and the next
                    // presentation is judged the same).
                    self.core
                        .store
                        .revoke_session(token.user(), token.session(), now)
                        .await?;
                }
                match judgement {
                    Judgement::Ask => {}
                    Judgement::Revoked => {
                        self.core.metrics.refresh(RefreshOutcome::Invalid);
                        return Err(AuthError::InvalidRefreshToken);
                    }
                    Judgement::Reused => return Err(self.reused(&token, client(), now).await),
                }
                Some(account)
            }
            None => None,
        };
        let seed = SuccessorSeed::random();
        let successor = token.successor(&self.core.refresh_key, &seed);
        let grant = self.core.issuer.grant(now);
        let outcome = self
            .core
            .store
            .rotate_refresh(
                Rotation {
                    user: token.user(),
                    session: token.session(),
                    presented: token.hash(),
                    generation: token.generation(),
                    successor: successor.hash(),
                    successor_generation: token.successor_generation(),
                    seed,
                    access: self.core.store_grant(grant),
                    grace: self.core.policy.reuse_grace,
                    idle_timeout: self.core.policy.idle_timeout,
                    binding,
                },
                now,
            )
            .await?;
        let (next, token_version, session_expires_at, attributes) = match outcome {
            RotationOutcome::Rotated {
                token_version,
                session_expires_at,
                attributes,
            } => {
                self.core.metrics.refresh(RefreshOutcome::Rotated);
                (successor, token_version, session_expires_at, attributes)
            }
            RotationOutcome::GraceReplay {
                seed,
                token_version,
                session_expires_at,
                attributes,
            } => {
                self.core.metrics.refresh(RefreshOutcome::GraceReplay);
                (
                    token.successor(&self.core.refresh_key, &seed),
                    token_version,
                    session_expires_at,
                    attributes,
                )
            }
            RotationOutcome::Reused => return Err(self.reused(&token, client(), now).await),
            RotationOutcome::Invalid => {
                self.core.metrics.refresh(RefreshOutcome::Invalid);
                return Err(AuthError::InvalidRefreshToken);
            }
        };
        match &account {
            Some(account) => {
                self.confirm_version(account, token_version, now).await?;
            }
            None => {
                self.confirm_refresh(token.user(), token.session(), token_version, now)
                    .await?;
            }
        }
        let amr = ClientInfo::from_attributes(&attributes).amr;
        let access = self.core.sign_access(
            token.user(),
            token.session(),
            token_version,
            amr,
            fingerprint,
            grant,
            now,
        )?;
        Ok(TokenPair {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: now.until(grant.1).as_secs(),
            refresh_token: next.encode(),
            refresh_expires_in: now.until(session_expires_at).as_secs(),
            session_id: token.session(),
        })
    }

    /// A rotated-away refresh token was presented and its session revoked (by the store,
    /// or after the durable copy's judgement): counted, logged and written as
    /// `refresh_token_reused`.
    async fn reused(&self, token: &RefreshToken, client: ClientInfo, now: Timestamp) -> AuthError {
        self.core.metrics.refresh(RefreshOutcome::Reused);
        tracing::warn!(
            user = %token.user(), session = %token.session(),
            "refresh token reused after rotation: session revoked (possible theft)"
        );
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::RefreshTokenReused, token.user(), now)
                    .session(token.session())
                    .client(&client),
            )
            .await;
        AuthError::RefreshTokenReused
    }
}
