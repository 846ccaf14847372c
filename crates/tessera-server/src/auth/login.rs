//! `POST /v1/auth/login`.

use serde_json::json;
use tessera_core::ids::SessionId;
use tessera_core::refresh::RefreshToken;
use tessera_core::time::Timestamp;
use tessera_store::{NewSession, SessionLimits};
use zeroize::Zeroizing;

use super::client::ClientInfo;
use super::error::AuthError;
use super::fingerprint::Fingerprint;
use super::mfa::SignIn;
use super::pair::TokenPair;
use super::service::AuthService;
use crate::accounts::User;
use crate::accounts::email::Email;
use crate::app_metrics::LoginResult;
use crate::audit::{EventKind, SecurityEvent};

impl AuthService {
    /// Checks the password and opens a session. Unknown email and wrong password are one
    /// outcome, [`AuthError::InvalidCredentials`], and cost the same (a hash is verified in
    /// both cases). A banned account is only revealed to someone who knows its password.
    /// `fingerprint`: the cookie value to bind the session to (when binding is on).
    /// With a second factor enrolled the result is a challenge, unless `trust_cookie` is this
    /// user's valid trusted-device cookie; `trust_device` asks for the device to become
    /// trusted when the challenge is completed.
    #[allow(clippy::too_many_arguments)]
    pub async fn login(
        &self,
        email: &str,
        password: Zeroizing<String>,
        client: ClientInfo,
        fingerprint: Option<&Fingerprint>,
        trust_cookie: Option<&str>,
        trust_device: bool,
        now: Timestamp,
    ) -> Result<SignIn, AuthError> {
        let result = self
            .login_step(
                email,
                password,
                client,
                fingerprint,
                trust_cookie,
                trust_device,
                now,
            )
            .await;
        let ok = match &result {
            Ok(SignIn::Mfa(_)) => LoginResult::MfaRequired,
            _ => LoginResult::Success,
        };
        self.count_login(&result, ok);
        result
    }

    /// [`AuthService::login`] without the counting.
    #[allow(clippy::too_many_arguments)]
    async fn login_step(
        &self,
        email: &str,
        password: Zeroizing<String>,
        client: ClientInfo,
        fingerprint: Option<&Fingerprint>,
        trust_cookie: Option<&str>,
        trust_device: bool,
        now: Timestamp,
    ) -> Result<SignIn, AuthError> {
        // The budget is taken before Argon2 runs, and given back only for the right password.
        let reservation = self.limits.reserve_password(client.ip, email, now).await?;
        let user = match Email::parse(email) {
            Some(e) => self.users.by_email(&e).await?,
            None => None,
        };
        let matched = self
            .hasher
            .verify(password, user.as_ref().map(|u| u.password_hash.clone()))
            .await?;
        let user = match user {
            Some(u) if matched => {
                self.limits.refund(reservation, now).await?;
                u
            }
            Some(u) => {
                self.password_failed(&u, &client, &reservation, json!({"action": "sign_in"}), now)
                    .await;
                return Err(AuthError::InvalidCredentials);
            }
            None => return Err(AuthError::InvalidCredentials),
        };
        if user.disabled_at.is_some() {
            return Err(AuthError::AccountDisabled);
        }
        self.after_password(&user, client, fingerprint, trust_cookie, trust_device, now)
            .await
    }

    /// Opens a session for an authenticated user and mints its first token pair.
    pub(crate) async fn open_session(
        &self,
        user: &User,
        client: ClientInfo,
        fingerprint: Option<&Fingerprint>,
        now: Timestamp,
    ) -> Result<TokenPair, AuthError> {
        let session = SessionId::new();
        let refresh = RefreshToken::generate(user.id, session, &self.refresh_key);
        let grant = self.issuer.grant(now);
        let absolute_expiry = now.plus(self.policy.absolute_lifetime);
        let fingerprint = fingerprint.filter(|_| self.policy.fingerprint);
        let created = self
            .store
            .create_session(
                NewSession {
                    user: user.id,
                    session,
                    refresh: refresh.hash(),
                    access: self.store_grant(grant),
                    token_version: user.token_version,
                    limits: SessionLimits {
                        idle_timeout: self.policy.idle_timeout,
                        absolute_expiry,
                    },
                    max_sessions: self.policy.max_sessions,
                    attributes: client.to_attributes(),
                    binding: fingerprint.map(Fingerprint::binding),
                },
                now,
            )
            .await?;
        // Re-read the account now that the session exists (see `standing`): a ban or a
        // password change that raced this sign-in ends it here or by its own revocation.
        self.confirm_sign_in(user, session, now).await?;
        let access = self.sign_access(
            user.id,
            session,
            created.token_version,
            client.amr.clone(),
            fingerprint,
            grant,
            now,
        )?;
        self.audit
            .record(
                SecurityEvent::new(EventKind::Login, user.id, now)
                    .session(session)
                    .client(&client)
                    .details(json!({"amr": client.amr})),
            )
            .await;
        for evicted in &created.evicted {
            self.audit
                .record(
                    SecurityEvent::new(EventKind::SessionEvicted, user.id, now)
                        .session(*evicted)
                        .details(json!({"reason": "session limit reached", "by_session": session})),
                )
                .await;
        }
        let refresh_deadline = now.plus(self.policy.idle_timeout).min(absolute_expiry);
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
