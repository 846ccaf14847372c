//! Password reset by mail: `POST /v1/password/forgot` sends the link, `POST
//! /v1/password/reset` sets the new password with it.

use serde_json::json;
use subtle::ConstantTimeEq;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::EphemeralKey;
use zeroize::Zeroizing;

use super::reset_token::ResetToken;
use super::{Passwords, binding, record_key};
use crate::accounts::User;
use crate::accounts::email::Email;
use crate::accounts::password::check_strength;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;
use crate::device::ClientInfo;
use crate::mail::Mail;
use crate::mfa::trusted;

impl Passwords {
    /// `POST /v1/password/forgot`: returns at once, whatever the email. The lookup, the token
    /// and the mail happen in a background task, so neither the answer nor its timing tells
    /// whether an account exists.
    ///
    /// Only the rate limits (mails per address and per account, [`AuthError::RateLimited`]
    /// or a store error) are checked before the answer.
    pub async fn request_reset(
        &self,
        email: String,
        client: ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        self.core
            .limits
            .before_forgot(client.ip, &email, now)
            .await?;
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.send_reset(&email, &client, now).await {
                tracing::warn!(error = %e, "password-reset request failed");
            }
        });
        Ok(())
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
            Some(e) => self.core.users.by_email(&e).await?,
            None => None,
        };
        let token = ResetToken::generate(user.as_ref().map_or_else(UserId::new, |u| u.id));
        let key = record_key(&token);
        let Some(user) = user.filter(|u| u.disabled_at.is_none()) else {
            return Ok(false);
        };
        if !self
            .core
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
        self.core
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
    /// before the token is consumed, so the link still works for a second try. The address's
    /// request budget is taken first ([`AuthError::RateLimited`]).
    ///
    /// Order (an attacker holding a session or the old password must not keep a session,
    /// whatever fails halfway):
    /// 1. the link is checked (read, not consumed) and the new password hashed;
    /// 2. every session is revoked in the state store (`revoke_user`, version `W`) and every
    ///    trusted device forgotten — if that fails the answer is 503 and the link still works
    ///    for a retry;
    /// 3. the link is consumed (exactly one of concurrent resets gets it);
    /// 4. SQL: the password hash (compare-and-set on the old one) and the durable token
    ///    version raised above `W`, in one statement;
    /// 5. every session is revoked again: a sign-in with the old password that slipped in
    ///    between 2 and 4 either re-read the account after 4 and ended its own session
    ///    (`sign_in::standing`), or opened it before 4 and dies here. If this step fails (503), such
    ///    a session is older than the durable version: refused at its next refresh and ended
    ///    by the user's next sign-in.
    pub async fn reset(
        &self,
        token: &str,
        new_password: Zeroizing<String>,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        self.core.limits.before_request(client.ip, now).await?;
        let token = ResetToken::parse(token.trim()).map_err(|_| AuthError::InvalidResetToken)?;
        // The link's record first: without a live link nothing about the user it names
        // (whether it exists, what a weak password is judged against) is answered.
        let key = record_key(&token);
        let stored = self
            .core
            .store
            .get(&key, now)
            .await?
            .ok_or(AuthError::InvalidResetToken)?;
        let user = self
            .core
            .users
            .by_id(token.user())
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or(AuthError::InvalidResetToken)?;
        if !bool::from(stored.as_slice().ct_eq(&binding(&user))) {
            // Issued before the password last changed.
            return Err(AuthError::InvalidResetToken);
        }
        check_strength(&new_password, &[user.email.as_str()])?;
        let new_hash = self.core.hasher.hash(new_password).await?;
        let revoked_at = self.core.store.revoke_user(user.id, now).await?;
        let done = self
            .after_revocation(&user, &key, &new_hash, revoked_at, client, now)
            .await;
        if done.is_err() {
            // The store's version moved and SQL's did not (a failure, or a concurrent reset
            // with the same link that won): written back, so that the next sign-in is not
            // taken for one that raced a revocation (`confirm_sign_in` refuses those).
            if let Err(e) = self
                .core
                .users
                .raise_token_version(user.id, revoked_at, now)
                .await
            {
                tracing::warn!(error = %e, user = %user.id, "a refused reset's token version was not written to SQL");
            }
        }
        done
    }

    /// The rest of a reset once the state store revoked `user`'s sessions at version
    /// `revoked_at`: spend the link `key`, write `new_hash`, revoke again, record.
    async fn after_revocation(
        &self,
        user: &User,
        key: &EphemeralKey,
        new_hash: &str,
        revoked_at: u64,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        // Trusted devices go before the link is spent: if this fails (503), the link still
        // works for a retry, so no reset ever leaves the old devices skipping the factor.
        // So do the methods of an account whose email this link proves for the first time
        // (`first_proof`).
        self.core.store.map_clear(user.id, trusted::MAP).await?;
        let unproven = self.forget_unproven(user.id, None).await?;
        if self.core.store.take(key, now).await?.is_none() {
            return Err(AuthError::InvalidResetToken);
        }
        if !self
            .core
            .users
            .set_password_revoking(user.id, new_hash, &user.password_hash, revoked_at, now)
            .await?
        {
            return Err(AuthError::InvalidResetToken);
        }
        self.core.revoke_everything(user.id, now).await?;
        let mut event = SecurityEvent::new(EventKind::PasswordResetCompleted, user.id, now);
        if let Some(removed) = self.forget_unproven(user.id, unproven).await? {
            self.core.users.prove_email(user.id, now).await?;
            event = event.details(json!({"first_proof_of_email": true, "removed": removed}));
        }
        self.core.audit.record(event.client(client)).await;
        Ok(())
    }
}
