//! The second step of a sign-in: after a correct password, either tokens (no factor
//! enrolled, or a trusted device) or a challenge (`mfa::challenge`) that
//! `POST /v1/auth/mfa` completes with a TOTP or recovery code.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::json;
use tessera_core::time::Timestamp;

use super::SignInService;
use crate::audit::{EventKind, SecurityEvent, device_label};
use crate::auth::core::proof::CodeKind;
use crate::auth::error::AuthError;
use crate::auth::fingerprint::Fingerprint;
use crate::auth::pair::TokenPair;
use crate::device::ClientInfo;
use crate::mfa::challenge::{self, Challenge, ChallengeId};
use crate::mfa::trusted::{self, TrustCookie, TrustedDevice};

/// A sign-in that needs its second step.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct MfaRequired {
    /// Always true.
    pub mfa_required: bool,
    /// Pass back to `POST /v1/auth/mfa`.
    pub challenge_id: String,
    /// `["totp", "recovery_code"]`, and `"passkey"` when the user has one.
    #[schema(value_type = Vec<String>)]
    pub methods: Vec<&'static str>,
    /// Seconds the challenge lives.
    pub expires_in: u64,
    /// With `"passkey"`: the request options for `navigator.credentials.get`
    /// (`{publicKey}`); the answer goes to `POST /v1/auth/mfa` as `passkey`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub passkey: Option<webauthn_rs::prelude::RequestChallengeResponse>,
}

/// What answers a sign-in challenge.
#[derive(Debug)]
pub enum MfaProof {
    /// A TOTP or recovery code.
    Code(String),
    /// A passkey's assertion for the challenge's options.
    Passkey(Box<webauthn_rs::prelude::PublicKeyCredential>),
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

/// What answered a challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Proved {
    Code(CodeKind),
    /// A passkey; its `amr` value (`hwk` or `swk`).
    Passkey(&'static str),
}

impl SignInService {
    /// Checks a passkey's answer to `challenge` under the same code budgets as a TOTP code
    /// (a wrong one writes `mfa_failed`; a counter that went backwards `passkey_cloned`
    /// too). `Ok(None)` when it does not verify.
    async fn prove_passkey(
        &self,
        user: &crate::accounts::User,
        challenge: &Challenge,
        credential: &webauthn_rs::prelude::PublicKeyCredential,
        attempts_left: u32,
        now: Timestamp,
    ) -> Result<Option<&'static str>, AuthError> {
        let reservation = self
            .core
            .limits
            .reserve_code(challenge.client.ip, user.id, now)
            .await?;
        let verified = match &challenge.passkey {
            Some(state) => match self.passkeys.webauthn() {
                Ok(w) => w
                    .finish_passkey_authentication(credential, state)
                    .map_err(|e| {
                        if matches!(
                            e,
                            webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise
                        ) {
                            crate::auth::passkeys::PasskeyError::PossibleClone
                        } else {
                            crate::auth::passkeys::PasskeyError::InvalidAssertion
                        }
                    }),
                Err(e) => Err(e),
            },
            None => Err(crate::auth::passkeys::PasskeyError::InvalidAssertion),
        };
        let used = match verified {
            Ok(result) => self.passkeys.used(user.id, &result, now).await,
            Err(e) => Err(e.into()),
        };
        let refused = match used {
            Ok(kind) => {
                self.core.limits.refund(reservation, now).await?;
                return Ok(Some(kind));
            }
            Err(AuthError::Passkey(e)) => e,
            Err(other) => return Err(other),
        };
        if matches!(refused, crate::auth::passkeys::PasskeyError::PossibleClone) {
            self.core
                .audit
                .record(
                    SecurityEvent::new(EventKind::PasskeyCloned, user.id, now)
                        .client(&challenge.client)
                        .details(json!({"credential_id": credential.id})),
                )
                .await;
        }
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::MfaFailed, user.id, now)
                    .client(&challenge.client)
                    .details(json!({"attempts_left": attempts_left, "method": "passkey"})),
            )
            .await;
        Ok(None)
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
        if self.core.mfa.confirmed(user.id).await?.is_none() {
            return Ok(SignIn::Tokens(
                self.open_session(user, client, fingerprint, now).await?,
            ));
        }
        if let Some(device) = self
            .second_factor
            .trusted_device(user.id, trust_cookie, now)
            .await?
        {
            client.trusted_device = Some(device);
            return Ok(SignIn::Tokens(
                self.open_session(user, client, fingerprint, now).await?,
            ));
        }
        let id = ChallengeId::generate();
        let passkey = self.passkeys.options_for(user.id).await?;
        let mut methods = vec!["totp", "recovery_code"];
        if passkey.is_some() {
            methods.push("passkey");
        }
        let (passkey_options, passkey_state) = passkey.unzip();
        let challenge = Challenge {
            user: user.id,
            client,
            trust_device,
            standing: Some(challenge::standing(&user.password_hash, user.token_version)),
            passkey: passkey_state,
        };
        let value =
            serde_json::to_vec(&challenge).map_err(|e| AuthError::Internal(e.to_string()))?;
        self.core
            .store
            .put_if_absent(&id.key(), &value, self.core.policy.mfa_challenge_ttl, now)
            .await?;
        Ok(SignIn::Mfa(MfaRequired {
            mfa_required: true,
            challenge_id: id.as_str().to_owned(),
            methods,
            expires_in: self.core.policy.mfa_challenge_ttl.as_secs(),
            passkey: passkey_options,
        }))
    }

    /// `POST /v1/auth/mfa`: completes a challenge with a TOTP code or a recovery code.
    /// Counted in `tessera_logins_total` as `success`, `failure` or `limited`.
    /// `caller_ip` is the address the code comes from.
    pub async fn complete_mfa(
        &self,
        challenge_id: &str,
        proof: MfaProof,
        fingerprint: Option<&Fingerprint>,
        caller_ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<Completed, AuthError> {
        let result = self
            .complete_mfa_step(challenge_id, proof, fingerprint, caller_ip, now)
            .await;
        self.count_login(&result, crate::app_metrics::LoginResult::Success);
        result
    }

    async fn complete_mfa_step(
        &self,
        challenge_id: &str,
        proof: MfaProof,
        fingerprint: Option<&Fingerprint>,
        caller_ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<Completed, AuthError> {
        let id = ChallengeId::parse(challenge_id).ok_or(AuthError::ChallengeExpired)?;
        let raw = self
            .core
            .store
            .get(&id.key(), now)
            .await?
            .ok_or(AuthError::ChallengeExpired)?;
        let mut challenge: Challenge =
            serde_json::from_slice(&raw).map_err(|_| AuthError::ChallengeExpired)?;
        let attempts = self
            .core
            .store
            .count_attempt(
                &id.attempts_key(),
                challenge::MAX_ATTEMPTS,
                self.core.policy.mfa_challenge_ttl,
                now,
            )
            .await?;
        if attempts.exhausted() {
            self.core.store.delete(&id.key()).await?;
            return Err(AuthError::TooManyAttempts);
        }
        let user = self.core.user(challenge.user).await?;
        // A reset, a change or "sign out everywhere" since the password step voids it: the
        // password that opened it is no longer good.
        if !challenge.still_holds_for(&user) {
            self.core.store.delete(&id.key()).await?;
            return Err(AuthError::ChallengeExpired);
        }
        // The code is sent from the caller's address, which may not be the one that passed
        // the password step: the session, the events and the budgets use the caller's.
        if caller_ip.is_some() {
            challenge.client.ip = caller_ip;
        }
        let proved = match proof {
            MfaProof::Code(code) => self
                .core
                .prove_code(
                    &user,
                    &code,
                    &challenge.client,
                    json!({"attempts_left": attempts.left()}),
                    now,
                )
                .await
                .map_err(|e| match e {
                    // The factor was removed since the password step.
                    AuthError::MfaNotEnabled => AuthError::ChallengeExpired,
                    e => e,
                })?
                .map(Proved::Code),
            MfaProof::Passkey(credential) => self
                .prove_passkey(&user, &challenge, &credential, attempts.left(), now)
                .await?
                .map(Proved::Passkey),
        };
        let Some(method) = proved else {
            return Err(AuthError::InvalidCode {
                attempts_left: Some(attempts.left()),
            });
        };
        // Exactly one completion opens a session.
        if self.core.store.take(&id.key(), now).await?.is_none() {
            return Err(AuthError::ChallengeExpired);
        }
        if user.disabled_at.is_some() {
            return Err(AuthError::AccountDisabled);
        }
        if method == Proved::Code(CodeKind::RecoveryCode) {
            let left = self.core.mfa.recovery_codes_left(user.id).await?;
            self.core
                .audit
                .record(
                    SecurityEvent::new(EventKind::RecoveryCodeUsed, user.id, now)
                        .client(&challenge.client)
                        .details(json!({"recovery_codes_left": left})),
                )
                .await;
        }
        // The first factor (a password, or a provider) and what answered the challenge.
        let first = challenge
            .client
            .amr
            .first()
            .cloned()
            .unwrap_or_else(|| "pwd".into());
        challenge.client.amr = match method {
            Proved::Code(CodeKind::Totp) => vec![first, "otp".into(), "mfa".into()],
            Proved::Code(CodeKind::RecoveryCode) => vec![first, "mfa".into()],
            Proved::Passkey(kind) => vec![first, kind.into(), "user".into(), "mfa".into()],
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
            self.core
                .store
                .map_put(
                    user.id,
                    trusted::MAP,
                    &cookie.device,
                    &value,
                    now.plus(self.core.policy.trusted_device_ttl),
                    now,
                )
                .await?;
            self.core
                .audit
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
}
