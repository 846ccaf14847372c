//! Two-factor sign-in: TOTP enrolment, challenges, recovery codes, trusted devices.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::json;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_core::token::AccessClaims;
use tessera_store::EphemeralKey;
use zeroize::Zeroizing;

use super::client::ClientInfo;
use super::error::AuthError;
use super::fingerprint::Fingerprint;
use super::pair::TokenPair;
use super::proof::CodeKind;
use super::service::AuthService;
use crate::audit::{EventKind, SecurityEvent, device_label};
use crate::mfa::challenge::{self, Challenge, ChallengeId};
use crate::mfa::recovery;
use crate::mfa::totp::TotpFactor;
use crate::mfa::trusted::{self, TrustCookie, TrustedDevice};

/// What `POST /v1/mfa/totp` returns: the pending secret in three forms.
#[derive(Clone, Serialize)]
pub struct Enrolment {
    /// Base32 secret.
    pub secret: String,
    /// `otpauth://totp/…`.
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

/// A sign-in that needs its second step.
#[derive(Clone, Debug, Serialize)]
pub struct MfaRequired {
    /// Always true.
    pub mfa_required: bool,
    /// Pass back to `POST /v1/auth/mfa`.
    pub challenge_id: String,
    /// `["totp", "recovery_code"]`.
    pub methods: Vec<&'static str>,
    /// Seconds the challenge lives.
    pub expires_in: u64,
}

/// How a password sign-in ended.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in.
    Tokens(TokenPair),
    /// A second factor is needed.
    Mfa(MfaRequired),
}

/// A completed second step: the tokens, and a new trust cookie when asked for.
#[derive(Debug)]
pub struct Completed {
    /// Tokens.
    pub pair: TokenPair,
    /// Set as a cookie when the device became trusted.
    pub trust: Option<TrustCookie>,
}

/// A trusted device as listed.
#[derive(Clone, Debug, Serialize)]
pub struct TrustedDeviceView {
    /// Id (use it to revoke).
    pub id: String,
    /// Label.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
}

const STEP_REPLAY_TTL: std::time::Duration = std::time::Duration::from_secs(150);

impl AuthService {
    /// Starts (or restarts) TOTP enrolment after the current password (a stolen access token
    /// alone must not add the attacker's factor); 409 when already enabled. The password is
    /// checked under the sign-in budgets ([`AuthService::prove_password`]).
    pub async fn enrol_totp(
        &self,
        caller: &AccessClaims,
        password: Zeroizing<String>,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<Enrolment, AuthError> {
        let user = self.user(caller.sub).await?;
        self.prove_password(&user, password, client, "mfa_enrol", now)
            .await?;
        if self.mfa.enabled(user.id).await? {
            return Err(AuthError::MfaAlreadyEnabled);
        }
        let factor = TotpFactor::generate(&self.policy.totp_issuer, &user.email)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let secret = Zeroizing::new(factor.secret_base32());
        if !self.mfa.put_pending(user.id, &secret, now).await? {
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
        let user = self.user(caller.sub).await?;
        let record = self
            .mfa
            .totp(user.id)
            .await?
            .ok_or(AuthError::MfaNotEnabled)?;
        if record.confirmed_at.is_some() {
            return Err(AuthError::MfaAlreadyEnabled);
        }
        let reservation = self.limits.reserve_code(client.ip, user.id, now).await?;
        if !self
            .check_totp(user.id, &record.secret, &user.email, code, "confirm", now)
            .await?
        {
            return Err(AuthError::InvalidCode {
                attempts_left: None,
            });
        }
        self.limits.refund(reservation, now).await?;
        // Devices trusted before this factor existed must not skip it: cleared first, so a
        // failure here leaves nothing confirmed.
        self.store.map_clear(user.id, trusted::MAP).await?;
        let codes = recovery::generate();
        if !self.mfa.confirm(user.id, &codes, now).await? {
            return Err(AuthError::MfaAlreadyEnabled);
        }
        self.profiles.forget(user.id);
        self.audit
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
        let user = self.user(caller.sub).await?;
        self.prove_password(&user, password, client, "mfa_disable", now)
            .await?;
        let proved = self
            .prove_code(
                &user,
                code,
                client,
                "disable",
                json!({"action": "mfa_disable"}),
                now,
            )
            .await?;
        if proved.is_none() {
            return Err(AuthError::InvalidCode {
                attempts_left: None,
            });
        }
        // Trusted devices first: a failure after the removal would leave them behind with
        // no way to retry (the removal is done, the next call finds no factor).
        self.store.map_clear(user.id, trusted::MAP).await?;
        self.mfa.remove(user.id).await?;
        self.profiles.forget(user.id);
        self.audit
            .record(SecurityEvent::new(EventKind::MfaDisabled, user.id, now).session(caller.sid))
            .await;
        Ok(())
    }

    /// A code against a TOTP secret, each step accepted once per user and purpose (RFC 6238
    /// §5.2): a sign-in code can never be replayed for another sign-in, while the code that
    /// confirmed an enrolment may still complete the first sign-in in the same 30 s.
    pub(crate) async fn check_totp(
        &self,
        user: UserId,
        secret: &str,
        email: &str,
        code: &str,
        purpose: &str,
        now: Timestamp,
    ) -> Result<bool, AuthError> {
        let factor = TotpFactor::from_base32(secret, &self.policy.totp_issuer, email)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let Some(step) = factor.check(code, now.as_secs().max(0) as u64) else {
            return Ok(false);
        };
        let marker = EphemeralKey::user(user, format!("totp:{purpose}:{step}"));
        Ok(self
            .store
            .put_if_absent(&marker, b"1", STEP_REPLAY_TTL, now)
            .await?)
    }

    /// After a correct password: tokens if no second factor is needed (none enrolled, or the
    /// request carries this user's valid trust cookie), else a challenge.
    /// [`AuthError::MfaUnavailable`] when the enrolled factor cannot be opened (fails closed).
    pub(crate) async fn after_password(
        &self,
        user: &crate::accounts::User,
        mut client: ClientInfo,
        fingerprint: Option<&Fingerprint>,
        trust_cookie: Option<&str>,
        trust_device: bool,
        now: Timestamp,
    ) -> Result<SignIn, AuthError> {
        // Fails closed: a confirmed factor that cannot be opened is an error, not "none".
        if self.mfa.confirmed(user.id).await?.is_none() {
            return Ok(SignIn::Tokens(
                self.open_session(user, client, fingerprint, now).await?,
            ));
        }
        if let Some(device) = self.trusted_device(user.id, trust_cookie, now).await? {
            client.trusted_device = Some(device);
            return Ok(SignIn::Tokens(
                self.open_session(user, client, fingerprint, now).await?,
            ));
        }
        let id = ChallengeId::generate();
        let challenge = Challenge {
            user: user.id,
            client,
            trust_device,
            standing: Some(challenge::standing(&user.password_hash, user.token_version)),
        };
        let value =
            serde_json::to_vec(&challenge).map_err(|e| AuthError::Internal(e.to_string()))?;
        self.store
            .put_if_absent(&id.key(), &value, self.policy.mfa_challenge_ttl, now)
            .await?;
        Ok(SignIn::Mfa(MfaRequired {
            mfa_required: true,
            challenge_id: id.as_str().to_owned(),
            methods: vec!["totp", "recovery_code"],
            expires_in: self.policy.mfa_challenge_ttl.as_secs(),
        }))
    }

    /// The device id of a valid trust cookie for `user`, if the request has one.
    async fn trusted_device(
        &self,
        user: UserId,
        cookie: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<String>, AuthError> {
        let Some(cookie) = cookie.and_then(TrustCookie::parse) else {
            return Ok(None);
        };
        if cookie.user != user {
            return Ok(None);
        }
        let stored = self
            .store
            .map_get(user, trusted::MAP, &cookie.device, now)
            .await?;
        let stored: Option<TrustedDevice> = stored.and_then(|v| serde_json::from_slice(&v).ok());
        Ok(stored.filter(|d| cookie.matches(d)).map(|_| cookie.device))
    }

    /// `POST /v1/auth/mfa`: completes a challenge with a TOTP code or a recovery code.
    /// Counted in `tessera_logins_total` as `success`, `failure` or `limited`.
    /// `caller_ip` is the address the code comes from.
    pub async fn complete_mfa(
        &self,
        challenge_id: &str,
        code: &str,
        fingerprint: Option<&Fingerprint>,
        caller_ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<Completed, AuthError> {
        let result = self
            .complete_mfa_step(challenge_id, code, fingerprint, caller_ip, now)
            .await;
        self.count_login(&result, crate::app_metrics::LoginResult::Success);
        result
    }

    async fn complete_mfa_step(
        &self,
        challenge_id: &str,
        code: &str,
        fingerprint: Option<&Fingerprint>,
        caller_ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<Completed, AuthError> {
        let id = ChallengeId::parse(challenge_id).ok_or(AuthError::ChallengeExpired)?;
        let raw = self
            .store
            .get(&id.key(), now)
            .await?
            .ok_or(AuthError::ChallengeExpired)?;
        let mut challenge: Challenge =
            serde_json::from_slice(&raw).map_err(|_| AuthError::ChallengeExpired)?;
        let attempts = self
            .store
            .count_attempt(
                &id.attempts_key(),
                challenge::MAX_ATTEMPTS,
                self.policy.mfa_challenge_ttl,
                now,
            )
            .await?;
        if attempts.exhausted() {
            self.store.delete(&id.key()).await?;
            return Err(AuthError::TooManyAttempts);
        }
        let user = self.user(challenge.user).await?;
        // A reset, a change or "sign out everywhere" since the password step voids it: the
        // password that opened it is no longer good.
        if !challenge.still_holds_for(&user) {
            self.store.delete(&id.key()).await?;
            return Err(AuthError::ChallengeExpired);
        }
        // The code is sent from the caller's address, which may not be the one that passed
        // the password step: the session, the events and the budgets use the caller's.
        if caller_ip.is_some() {
            challenge.client.ip = caller_ip;
        }
        let proved = self
            .prove_code(
                &user,
                code,
                &challenge.client,
                "sign-in",
                json!({"attempts_left": attempts.left()}),
                now,
            )
            .await
            .map_err(|e| match e {
                // The factor was removed since the password step.
                AuthError::MfaNotEnabled => AuthError::ChallengeExpired,
                e => e,
            })?;
        let Some(method) = proved else {
            return Err(AuthError::InvalidCode {
                attempts_left: Some(attempts.left()),
            });
        };
        // Exactly one completion opens a session.
        if self.store.take(&id.key(), now).await?.is_none() {
            return Err(AuthError::ChallengeExpired);
        }
        if user.disabled_at.is_some() {
            return Err(AuthError::AccountDisabled);
        }
        if method == CodeKind::RecoveryCode {
            let left = self.mfa.recovery_codes_left(user.id).await?;
            self.audit
                .record(
                    SecurityEvent::new(EventKind::RecoveryCodeUsed, user.id, now)
                        .client(&challenge.client)
                        .details(json!({"recovery_codes_left": left})),
                )
                .await;
        }
        challenge.client.amr = match method {
            CodeKind::Totp => vec!["pwd".into(), "otp".into(), "mfa".into()],
            CodeKind::RecoveryCode => vec!["pwd".into(), "mfa".into()],
        };
        let trust = if challenge.trust_device {
            let cookie = TrustCookie::generate(user.id);
            let record = TrustedDevice {
                h: cookie.secret_hash(),
                n: device_label(&challenge.client).unwrap_or_else(|| "unknown device".into()),
                c: now.as_secs(),
            };
            let value =
                serde_json::to_vec(&record).map_err(|e| AuthError::Internal(e.to_string()))?;
            self.store
                .map_put(
                    user.id,
                    trusted::MAP,
                    &cookie.device,
                    &value,
                    now.plus(self.policy.trusted_device_ttl),
                    now,
                )
                .await?;
            self.audit
                .record(
                    SecurityEvent::new(EventKind::TrustedDeviceAdded, user.id, now)
                        .client(&challenge.client)
                        .details(json!({"device_id": cookie.device})),
                )
                .await;
            challenge.client.trusted_device = Some(cookie.device.clone());
            Some(cookie)
        } else {
            None
        };
        let pair = self
            .open_session(&user, challenge.client, fingerprint, now)
            .await?;
        Ok(Completed { pair, trust })
    }

    /// The caller's trusted devices.
    pub async fn trusted_devices(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<TrustedDeviceView>, AuthError> {
        let entries = self.store.map_list(user, trusted::MAP, now).await?;
        Ok(entries
            .into_iter()
            .filter_map(|(id, value, expires)| {
                let d: TrustedDevice = serde_json::from_slice(&value).ok()?;
                Some(TrustedDeviceView {
                    id,
                    name: d.n,
                    created_at: crate::rfc3339::format(Timestamp::from_secs(d.c)),
                    expires_at: crate::rfc3339::format(expires),
                })
            })
            .collect())
    }

    /// Revokes one trusted device; 404 when the caller has none with that id.
    pub async fn remove_trusted_device(
        &self,
        caller: &AccessClaims,
        id: &str,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        if !trusted::is_device_id(id)
            || !self.store.map_remove(caller.sub, trusted::MAP, id).await?
        {
            return Err(AuthError::DeviceNotFound);
        }
        self.audit
            .record(
                SecurityEvent::new(EventKind::TrustedDeviceRemoved, caller.sub, now)
                    .session(caller.sid)
                    .details(json!({"device_id": id})),
            )
            .await;
        Ok(())
    }
}
