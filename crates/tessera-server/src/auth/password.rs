//! Password reset by mail (`/v1/password/forgot`, `/v1/password/reset`) and password change
//! (`/v1/password/change`).
//!
//! A reset token ([`ResetToken`]) is stored only as the name of a record in its user's scope,
//! `reset:<sha-256 hex>`, living `password_reset_ttl`; its value binds the token to the
//! password hash that was current when it was issued, so any later password change or reset
//! voids every token still outstanding. Consuming is one atomic `take`: of concurrent resets
//! with one token exactly one gets the record; the SQL update is a compare-and-set on the old
//! hash, so two different tokens cannot both win either.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;
use tessera_store::EphemeralKey;
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

use super::client::ClientInfo;
use super::error::AuthError;
use super::reset_token::ResetToken;
use super::service::AuthService;
use crate::accounts::User;
use crate::accounts::email::Email;
use crate::accounts::password::check_strength;
use crate::audit::{EventKind, SecurityEvent};
use crate::mail::{Mail, Mailer};

/// The per-user map of trusted devices (see `mfa::trusted`): cleared by a reset and a change.
const TRUSTED_DEVICES: &str = "trusted";

/// How many reset mails are sent at once (SMTP connections are not free).
const MAIL_CONCURRENCY: usize = 8;

/// Reset-by-mail settings.
#[derive(Clone, Debug)]
pub struct ResetPolicy {
    /// Front-end page; the mail links to `<url>?token=<token>`.
    pub url: String,
    /// Token lifetime.
    pub ttl: Duration,
}

/// Password reset and change: the auth service plus a mailer.
#[derive(Clone)]
pub struct Passwords {
    auth: AuthService,
    mailer: Arc<Mailer>,
    policy: ResetPolicy,
    sending: Arc<Semaphore>,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords")
            .field("mailer", &self.mailer)
            .field("ttl", &self.policy.ttl)
            .finish_non_exhaustive()
    }
}

/// What a stored reset record holds: a digest of the password hash current at issue.
fn binding(user: &User) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"tessera/password-reset-binding/v1");
    h.update(user.password_hash.as_bytes());
    h.finalize().into()
}

fn record_key(token: &ResetToken) -> EphemeralKey {
    EphemeralKey::user(token.user(), format!("reset:{}", token.hash()))
}

impl Passwords {
    /// Over `auth`, sending with `mailer`.
    pub fn new(auth: AuthService, mailer: Arc<Mailer>, policy: ResetPolicy) -> Self {
        Self {
            auth,
            mailer,
            policy,
            sending: Arc::new(Semaphore::new(MAIL_CONCURRENCY)),
        }
    }

    /// `POST /v1/password/forgot`: returns at once, whatever the email. The lookup, the token
    /// and the mail happen in a background task, so neither the answer nor its timing tells
    /// whether an account exists.
    pub fn request_reset(&self, email: String, client: ClientInfo, now: Timestamp) {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.send_reset(&email, &client, now).await {
                tracing::warn!(error = %e, "password-reset request failed");
            }
        });
    }

    /// The work behind [`Passwords::request_reset`]: for a known, active account, stores a
    /// new token and mails its link. Returns whether a mail was sent. An unknown email costs
    /// a comparable amount of work (a token is generated and hashed either way).
    pub async fn send_reset(
        &self,
        email: &str,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<bool, AuthError> {
        let user = match Email::parse(email) {
            Some(e) => self.auth.users.by_email(&e).await?,
            None => None,
        };
        let token = ResetToken::generate(user.as_ref().map_or_else(UserId::new, |u| u.id));
        let key = record_key(&token);
        let Some(user) = user.filter(|u| u.disabled_at.is_none()) else {
            return Ok(false);
        };
        if !self
            .auth
            .store
            .put_if_absent(&key, &binding(&user), self.policy.ttl, now)
            .await?
        {
            return Err(AuthError::Internal("reset token collision".into()));
        }
        let sep = if self.policy.url.contains('?') {
            '&'
        } else {
            '?'
        };
        let link = format!("{}{sep}token={}", self.policy.url, token.encode());
        let text = format!(
            "Hello,\n\n\
             someone (hopefully you) asked to reset the password of the account {email}.\n\
             Open this link within {ttl} to choose a new password:\n\n\
             {link}\n\n\
             The link works once. If you did not ask for this, ignore this mail: your password\n\
             stays as it is.\n",
            email = user.email,
            ttl = humantime::format_duration(self.policy.ttl),
        );
        let mail = Mail {
            to: user.email.clone(),
            subject: "Reset your password".to_owned(),
            text,
        };
        let sent = {
            let _permit = self
                .sending
                .acquire()
                .await
                .map_err(|e| AuthError::Internal(e.to_string()))?;
            self.mailer.send(mail, now).await
        };
        if let Err(e) = sent {
            // The token is useless without its mail; it expires by itself.
            tracing::warn!(error = %e, user = %user.id, via = self.mailer.kind(), "password-reset mail not sent");
            return Err(AuthError::Internal("mail not sent".into()));
        }
        self.auth
            .audit
            .record(
                SecurityEvent::new(EventKind::PasswordResetRequested, user.id, now)
                    .client(client)
                    .details(json!({"delivery": self.mailer.kind()})),
            )
            .await;
        Ok(true)
    }

    /// `POST /v1/password/reset`: sets a new password with a mailed token and revokes every
    /// session (token version bumped) and every trusted device. A weak new password is refused
    /// before the token is consumed, so the link still works for a second try.
    ///
    /// Order (an attacker holding a session or the old password must not keep a session,
    /// whatever fails halfway):
    /// 1. the link is checked (read, not consumed) and the new password hashed;
    /// 2. every session is revoked in the state store (`revoke_user`, version `W`) — if that
    ///    fails the answer is 503 and nothing changed: the link still works for a retry;
    /// 3. the link is consumed (exactly one of concurrent resets gets it);
    /// 4. SQL: the password hash (compare-and-set on the old one) and the durable token
    ///    version raised above `W`, in one statement;
    /// 5. every session is revoked again: a sign-in with the old password that slipped in
    ///    between 2 and 4 either re-read the account after 4 and ended its own session
    ///    (`standing`), or opened it before 4 and dies here. If this step fails (503), such
    ///    a session is older than the durable version: refused at its next refresh and ended
    ///    by the user's next sign-in.
    pub async fn reset(
        &self,
        token: &str,
        new_password: Zeroizing<String>,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let token = ResetToken::parse(token.trim()).map_err(|_| AuthError::InvalidResetToken)?;
        let user = self
            .auth
            .users
            .by_id(token.user())
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or(AuthError::InvalidResetToken)?;
        check_strength(&new_password, &[user.email.as_str()])?;
        let key = record_key(&token);
        let stored = self
            .auth
            .store
            .get(&key, now)
            .await?
            .ok_or(AuthError::InvalidResetToken)?;
        if !bool::from(stored.as_slice().ct_eq(&binding(&user))) {
            // Issued before the password last changed.
            return Err(AuthError::InvalidResetToken);
        }
        let new_hash = self.auth.hasher.hash(new_password).await?;
        let revoked_at = self.auth.store.revoke_user(user.id, now).await?;
        if self.auth.store.take(&key, now).await?.is_none() {
            return Err(AuthError::InvalidResetToken);
        }
        if !self
            .auth
            .users
            .set_password_revoking(user.id, &new_hash, &user.password_hash, revoked_at, now)
            .await?
        {
            return Err(AuthError::InvalidResetToken);
        }
        self.auth.revoke_everything(user.id, now).await?;
        self.auth.store.map_clear(user.id, TRUSTED_DEVICES).await?;
        self.auth
            .audit
            .record(
                SecurityEvent::new(EventKind::PasswordResetCompleted, user.id, now).client(client),
            )
            .await;
        Ok(())
    }

    /// `POST /v1/password/change`: needs the current password; revokes every other session
    /// of the caller and every trusted device. The caller's session stays.
    ///
    /// Order: every other session is revoked in one atomic store step
    /// (`revoke_user_except`: a concurrent refresh or sign-in sees all of them alive or all
    /// gone) *before* the SQL write, so a store failure answers 503 with nothing changed;
    /// then the password hash (compare-and-set); then the same step again for a sign-in with
    /// the old password that opened its session in between (one that re-read the account
    /// after the SQL write ended its own session, see `standing`). The token version is not
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
            .auth
            .users
            .by_id(caller.sub)
            .await?
            .ok_or(AuthError::TokenRevoked)?;
        self.auth
            .prove_password(&user, current, client, "password_change", now)
            .await?;
        check_strength(&new_password, &[user.email.as_str()])?;
        let new_hash = self.auth.hasher.hash(new_password).await?;
        let first = self
            .auth
            .store
            .revoke_user_except(user.id, caller.sid, now)
            .await?;
        if !self
            .auth
            .users
            .set_password(user.id, &new_hash, &user.password_hash, now)
            .await?
        {
            // Changed concurrently: the password checked above is no longer current.
            return Err(AuthError::InvalidCredentials);
        }
        let again = self
            .auth
            .store
            .revoke_user_except(user.id, caller.sid, now)
            .await?;
        let revoked = first + again;
        for _ in 0..revoked {
            self.auth
                .metrics
                .revocation(crate::app_metrics::RevocationKind::Session);
        }
        self.auth.store.map_clear(user.id, TRUSTED_DEVICES).await?;
        self.auth
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
