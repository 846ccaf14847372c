//! `POST /v1/auth/login`.

use serde_json::json;
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use super::SignInService;
use super::second_step::SignIn;
use crate::accounts::email::Email;
use crate::app_metrics::LoginResult;
use crate::auth::error::AuthError;
use crate::auth::fingerprint::Fingerprint;
use crate::device::ClientInfo;

impl SignInService {
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

    /// [`SignInService::login`] without the counting.
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
        let reservation = self
            .core
            .limits
            .reserve_password(client.ip, email, now)
            .await?;
        let user = match Email::parse(email) {
            Some(e) => self.core.users.by_email(&e).await?,
            None => None,
        };
        let matched = self
            .core
            .hasher
            .verify(
                password,
                user.as_ref()
                    .filter(|u| u.has_password())
                    .map(|u| u.password_hash.clone()),
            )
            .await?;
        let user = match user {
            Some(u) if matched => {
                self.core.limits.refund(reservation, now).await?;
                u
            }
            Some(u) => {
                self.core
                    .password_failed(&u, &client, &reservation, json!({"action": "sign_in"}), now)
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
}
