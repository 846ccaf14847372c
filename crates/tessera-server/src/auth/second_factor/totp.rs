//! TOTP enrolment (`POST /v1/mfa/totp`), confirmation (`POST /v1/mfa/totp/confirm`) and
//! removal (`DELETE /v1/mfa/totp`).

use serde_json::json;
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;
use zeroize::Zeroizing;

use super::{Enrolment, SecondFactorService};
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::core::proof::TotpUse;
use crate::auth::error::AuthError;
use crate::device::ClientInfo;
use crate::mfa::recovery;
use crate::mfa::totp::TotpFactor;
use crate::mfa::trusted;

impl SecondFactorService {
    /// Starts (or restarts) TOTP enrolment after the current password (a stolen access token
    /// alone must not add the attacker's factor); 409 when already enabled. The password is
    /// checked under the sign-in budgets (`core::proof`).
    pub async fn enrol_totp(
        &self,
        caller: &AccessClaims,
        password: Zeroizing<String>,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<Enrolment, AuthError> {
        let user = self.core.user(caller.sub).await?;
        self.core
            .prove_password(&user, password, client, "mfa_enrol", now)
            .await?;
        if self.core.mfa.enabled(user.id).await? {
            return Err(AuthError::MfaAlreadyEnabled);
        }
        let factor = TotpFactor::generate(&self.core.policy.totp_issuer, &user.email)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let secret = Zeroizing::new(factor.secret_base32());
        if !self.core.mfa.put_pending(user.id, &secret, now).await? {
            return Err(AuthError::MfaAlreadyEnabled);
        }
        Ok(Enrolment {
            secret: secret.to_string(),
            otpauth_uri: factor.uri(),
            qr_svg: factor.qr_svg(),
        })
    }

    /// Confirms enrolment with a first code; returns the recovery codes (shown once). Wrong
    /// codes spend the user's second-factor budget like sign-in codes.
    pub async fn confirm_totp(
        &self,
        caller: &AccessClaims,
        code: &str,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<Vec<String>, AuthError> {
        let user = self.core.user(caller.sub).await?;
        let record = self
            .core
            .mfa
            .totp(user.id)
            .await?
            .ok_or(AuthError::MfaNotEnabled)?;
        if record.confirmed_at.is_some() {
            return Err(AuthError::MfaAlreadyEnabled);
        }
        let reservation = self
            .core
            .limits
            .reserve_code(client.ip, user.id, now)
            .await?;
        if !self
            .core
            .check_totp(
                user.id,
                &record.secret,
                &user.email,
                code,
                TotpUse::Enrolment,
                now,
            )
            .await?
        {
            return Err(AuthError::InvalidCode {
                attempts_left: None,
            });
        }
        self.core.limits.refund(reservation, now).await?;
        // Devices trusted before this factor existed must not skip it: cleared first, so a
        // failure here leaves nothing confirmed.
        self.core.store.map_clear(user.id, trusted::MAP).await?;
        let codes = recovery::generate();
        if !self.core.mfa.confirm(user.id, &codes, now).await? {
            return Err(AuthError::MfaAlreadyEnabled);
        }
        self.core.profiles.forget(user.id);
        self.core
            .audit
            .record(SecurityEvent::new(EventKind::MfaEnabled, user.id, now).session(caller.sid))
            .await;
        Ok(codes)
    }

    /// Turns TOTP off after two proofs: the current password and a second-factor code (TOTP
    /// or a recovery code), each under the sign-in budgets, so a stolen access token alone
    /// neither removes the factor nor guesses either secret. Trusted devices go too.
    pub async fn disable_totp(
        &self,
        caller: &AccessClaims,
        password: Zeroizing<String>,
        code: &str,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let user = self.core.user(caller.sub).await?;
        self.core
            .prove_password(&user, password, client, "mfa_disable", now)
            .await?;
        let proved = self
            .core
            .prove_code(&user, code, client, json!({"action": "mfa_disable"}), now)
            .await?;
        if proved.is_none() {
            return Err(AuthError::InvalidCode {
                attempts_left: None,
            });
        }
        // Trusted devices first: a failure after the removal would leave them behind with
        // no way to retry (the removal is done, the next call finds no factor).
        self.core.store.map_clear(user.id, trusted::MAP).await?;
        self.core.mfa.remove(user.id).await?;
        self.core.profiles.forget(user.id);
        self.core
            .audit
            .record(SecurityEvent::new(EventKind::MfaDisabled, user.id, now).session(caller.sid))
            .await;
        Ok(())
    }
}
