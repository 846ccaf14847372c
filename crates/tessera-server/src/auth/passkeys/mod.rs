//! [`PasskeyService`]: passkeys (WebAuthn) — registering them from a signed-in session,
//! signing in with one (username-less, or email + passkey), listing and removing them.
//!
//! The ceremonies are webauthn-rs's (`Webauthn`, built at start from `webauthn_rp_id` and
//! `webauthn_origins`): nothing of attestation or assertion checking is written here. Each
//! ceremony's state waits in the state store for 5 minutes under a random challenge id and
//! is *taken* (read and deleted in one step) when it is finished, so an answer is checked
//! against it at most once: a replayed or second answer finds nothing.
//!
//! - **Registering** needs the current password (a stolen access token alone cannot add
//!   the attacker's authenticator), and the challenge id belongs to the user who asked.
//! - **Signing in** gives the same session, tokens, devices and events as a password, with
//!   `amr` `["hwk"|"swk", "user", "mfa"]`: a passkey verifies the user (webauthn-rs
//!   requires user verification), so it is a sign-in of two factors on its own (`swk` when
//!   the credential may be synced, `hwk` when it is bound to one device). The signature
//!   counter and backup flags are updated as webauthn-rs advises; a counter that went
//!   backwards (a cloned authenticator) refuses the sign-in and writes `passkey_cloned`.

pub mod check;
pub mod error;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use tessera_store::EphemeralKey;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, Webauthn,
    WebauthnError,
};
use zeroize::Zeroizing;

use super::AuthCore;
use super::error::AuthError;
use super::fingerprint::Fingerprint;
use super::pair::TokenPair;
use super::sign_in::SignInService;
use crate::accounts::email::Email;
use crate::accounts::passkeys::{AddPasskeyError, Passkeys, Removed, StoredPasskey};
use crate::app_metrics::LoginResult;
use crate::audit::{EventKind, SecurityEvent};
use crate::device::ClientInfo;
pub use check::PasskeyCheck;
pub use error::PasskeyError;

/// How long a ceremony waits for its answer.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);
/// Longest passkey name.
pub const MAX_NAME: usize = 64;
/// Most passkeys per user (each answer to a second-step challenge lists them all).
pub const MAX_PER_USER: usize = 20;

/// Characters a name may not hold: controls, and the invisible and direction-changing
/// format characters that could make one name look like another in a list.
fn unprintable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// A ceremony's id: 22 base64url characters (128 random bits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CeremonyId(String);

impl CeremonyId {
    fn generate() -> Self {
        use base64::Engine;
        let mut b = [0u8; 16];
        rand::fill(&mut b);
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
    }

    fn parse(s: &str) -> Option<Self> {
        (s.len() == 22
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(s.to_owned()))
    }

    /// The id as sent to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn key(&self, kind: &str) -> EphemeralKey {
        EphemeralKey::tag(format!("pk:{}", self.0), kind)
    }
}

/// A registration waiting for the authenticator's answer.
#[derive(Serialize, Deserialize)]
struct Registration {
    user: UserId,
    state: PasskeyRegistration,
}

/// A sign-in waiting for the authenticator's answer: always a discoverable ceremony (the
/// answer names its user), so the options never depend on the email. With an email, the
/// answer must come from that account's passkey (`email` is `Some`, holding the account,
/// or `None` for an unknown email: then no answer verifies).
#[derive(Serialize, Deserialize)]
struct SignInCeremony {
    state: DiscoverableAuthentication,
    email: Option<Option<UserId>>,
}

/// A passkey as listed.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PasskeyInfo {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, `null` before its first use.
    pub last_used_at: Option<String>,
}

impl From<&StoredPasskey> for PasskeyInfo {
    fn from(p: &StoredPasskey) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            created_at: crate::rfc3339::format(p.created_at),
            last_used_at: p.last_used_at.map(crate::rfc3339::format),
        }
    }
}

/// See the module documentation.
#[derive(Clone)]
pub struct PasskeyService {
    core: Arc<AuthCore>,
    sign_in: SignInService,
    check: PasskeyCheck,
}

impl std::fmt::Debug for PasskeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyService").finish_non_exhaustive()
    }
}

impl PasskeyService {
    /// Over `core`; sessions open through `sign_in`.
    pub fn new(core: Arc<AuthCore>, sign_in: SignInService, check: PasskeyCheck) -> Self {
        Self {
            core,
            sign_in,
            check,
        }
    }

    fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.check.webauthn()
    }

    fn passkeys(&self) -> &Passkeys {
        self.check.passkeys()
    }

    /// `POST /v1/passkeys/register/options`: after the password — and, when the account has
    /// a second factor, its `code` — the creation options. A passkey signs in without the
    /// second factor (it is one, `amr` `mfa`), so adding one needs every factor the account
    /// has: a stolen access token with the password (a phishing relay, XSS plus a reused
    /// password) must not turn into a passkey of the attacker's that skips TOTP from then on.
    /// Without the code that is [`AuthError::SecondFactorRequired`]; a wrong one
    /// [`AuthError::InvalidCode`], under the sign-in code budget.
    pub async fn register_options(
        &self,
        user: UserId,
        password: Zeroizing<String>,
        code: Option<&str>,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(CeremonyId, CreationChallengeResponse), AuthError> {
        let user = self.core.user(user).await?;
        self.core
            .prove_password(&user, password, client, "register_passkey", now)
            .await?;
        // Whatever can still refuse goes before the code, which a recovery code spends.
        let webauthn = self.webauthn()?;
        let existing = self.passkeys().of_user(user.id).await?;
        if existing.len() >= MAX_PER_USER {
            return Err(PasskeyError::TooMany.into());
        }
        if self.core.mfa.enabled(user.id).await? {
            let code = code.ok_or(AuthError::SecondFactorRequired)?;
            let proved = self
                .core
                .prove_code(
                    &user,
                    code,
                    client,
                    serde_json::json!({"action": "register_passkey"}),
                    now,
                )
                .await?;
            if proved.is_none() {
                return Err(AuthError::InvalidCode {
                    attempts_left: None,
                });
            }
        }
        let exclude = existing
            .iter()
            .map(|p| p.credential.cred_id().clone())
            .collect();
        let display = user.name.clone().unwrap_or_else(|| user.email.clone());
        let (mut options, state) = webauthn
            .start_passkey_registration(*user.id.as_uuid(), &user.email, &display, Some(exclude))
            .map_err(|e| AuthError::Internal(format!("webauthn: {e}")))?;
        // A discoverable credential (the library asks for none), so that the passkey signs
        // in without an email, as username-less sign-in needs.
        if let Some(sel) = options.public_key.authenticator_selection.as_mut() {
            sel.resident_key = Some(webauthn_rs_proto::ResidentKeyRequirement::Required);
            sel.require_resident_key = true;
        }
        let id = CeremonyId::generate();
        self.core
            .put_record(
                &id.key("reg"),
                &Registration {
                    user: user.id,
                    state,
                },
                CEREMONY_TTL,
                now,
            )
            .await?;
        Ok((id, options))
    }

    /// `POST /v1/passkeys/register`: checks the answer against the ceremony and stores the
    /// passkey.
    pub async fn register(
        &self,
        user: UserId,
        ceremony: &str,
        name: Option<&str>,
        credential: &RegisterPublicKeyCredential,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<PasskeyInfo, AuthError> {
        let name = name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .unwrap_or("Passkey");
        if name.chars().count() > MAX_NAME || name.chars().any(unprintable) {
            return Err(PasskeyError::InvalidName.into());
        }
        let id = CeremonyId::parse(ceremony).ok_or(PasskeyError::InvalidChallenge)?;
        let reg: Registration = self
            .core
            .take_record(&id.key("reg"), now)
            .await?
            .ok_or(PasskeyError::InvalidChallenge)?;
        if reg.user != user {
            return Err(PasskeyError::InvalidChallenge.into());
        }
        let credential = self
            .webauthn()?
            .finish_passkey_registration(credential, &reg.state)
            .map_err(|e| PasskeyError::InvalidRegistration(e.to_string()))?;
        let stored = StoredPasskey {
            id: uuid::Uuid::now_v7(),
            user,
            name: name.to_owned(),
            credential,
            created_at: now,
            last_used_at: None,
        };
        match self.passkeys().add(&stored).await {
            Ok(()) => {}
            Err(AddPasskeyError::Duplicate) => {
                return Err(PasskeyError::InvalidRegistration("already registered".into()).into());
            }
            Err(AddPasskeyError::Db(e)) => return Err(e.into()),
        }
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::PasskeyAdded, user, now)
                    .client(client)
                    .details(json!({"passkey_id": stored.id, "name": stored.name})),
            )
            .await;
        Ok(PasskeyInfo::from(&stored))
    }

    /// `GET /v1/passkeys`.
    pub async fn list(&self, user: UserId) -> Result<Vec<PasskeyInfo>, AuthError> {
        Ok(self
            .passkeys()
            .of_user(user)
            .await?
            .iter()
            .map(PasskeyInfo::from)
            .collect())
    }

    /// `DELETE /v1/passkeys/{id}`: never the last way to sign in.
    pub async fn remove(
        &self,
        user: UserId,
        id: &str,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let id: uuid::Uuid = id.parse().map_err(|_| PasskeyError::NotFound)?;
        let account = self.core.user(user).await?;
        match self
            .passkeys()
            .remove_unless_last(user, id, account.has_password())
            .await?
        {
            Removed::Removed => {}
            Removed::NotFound => return Err(PasskeyError::NotFound.into()),
            Removed::Last => return Err(PasskeyError::LastSignInMethod.into()),
        }
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::PasskeyRemoved, user, now)
                    .client(client)
                    .details(json!({"passkey_id": id})),
            )
            .await;
        Ok(())
    }

    /// `POST /v1/auth/passkey/options`: request options for a discoverable credential, the
    /// same whether an email is given, known or not (nothing about the account shows); with
    /// an email, only that account's passkey will verify. Takes a unit of the address's
    /// ceremony budget: each call stores a record.
    pub async fn sign_in_options(
        &self,
        email: Option<&str>,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(CeremonyId, RequestChallengeResponse), AuthError> {
        self.core.limits.before_ceremony(ip, now).await?;
        let email_user = match email {
            None => None,
            Some(e) => Some(match Email::parse(e) {
                Some(e) => self.core.users.by_email(&e).await?.map(|u| u.id),
                None => None,
            }),
        };
        let (options, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(|e| AuthError::Internal(format!("webauthn: {e}")))?;
        let ceremony = SignInCeremony {
            state,
            email: email_user,
        };
        let id = CeremonyId::generate();
        self.core
            .put_record(&id.key("auth"), &ceremony, CEREMONY_TTL, now)
            .await?;
        Ok((id, options))
    }

    /// `POST /v1/auth/passkey`: checks the assertion against its ceremony (taken first:
    /// single use) and opens a session. A refused assertion counts as a failed sign-in in
    /// `tessera_logins_total`.
    pub async fn sign_in(
        &self,
        ceremony: &str,
        credential: &PublicKeyCredential,
        client: ClientInfo,
        fingerprint: Option<&Fingerprint>,
        now: Timestamp,
    ) -> Result<TokenPair, AuthError> {
        let result = self
            .sign_in_step(ceremony, credential, client, fingerprint, now)
            .await;
        match &result {
            Ok(_) => self.core.metrics.login(LoginResult::Success),
            Err(AuthError::Passkey(_) | AuthError::AccountDisabled) => {
                self.core.metrics.login(LoginResult::Failure);
            }
            Err(_) => {}
        }
        result
    }

    async fn sign_in_step(
        &self,
        ceremony: &str,
        credential: &PublicKeyCredential,
        mut client: ClientInfo,
        fingerprint: Option<&Fingerprint>,
        now: Timestamp,
    ) -> Result<TokenPair, AuthError> {
        self.core.limits.before_request(client.ip, now).await?;
        let id = CeremonyId::parse(ceremony).ok_or(PasskeyError::InvalidChallenge)?;
        let ceremony: SignInCeremony = self
            .core
            .take_record(&id.key("auth"), now)
            .await?
            .ok_or(PasskeyError::InvalidChallenge)?;
        let (uuid, cred_id) = self
            .webauthn()?
            .identify_discoverable_authentication(credential)
            .map_err(|_| PasskeyError::InvalidAssertion)?;
        let user = UserId::from_uuid(uuid);
        if ceremony
            .email
            .is_some_and(|expected| expected != Some(user))
        {
            return Err(PasskeyError::InvalidAssertion.into());
        }
        let mine = self.passkeys().of_user(user).await?;
        // The user handle only says where to look: the credential must be one of that
        // user's, and the library verifies the signature with the stored key.
        let key = mine
            .iter()
            .find(|p| p.credential.cred_id().as_slice() == cred_id)
            .ok_or(PasskeyError::InvalidAssertion)?;
        let result = self.webauthn()?.finish_discoverable_authentication_v2(
            credential,
            ceremony.state,
            DiscoverableKey::from(&key.credential),
        );
        let result = match result {
            Ok(r) => r,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                self.core
                    .audit
                    .record(
                        SecurityEvent::new(EventKind::PasskeyCloned, user, now)
                            .client(&client)
                            .details(json!({"credential_id": credential.id})),
                    )
                    .await;
                return Err(PasskeyError::InvalidAssertion.into());
            }
            Err(_) => return Err(PasskeyError::InvalidAssertion.into()),
        };
        let kind = match self.check.used(user, &result, now).await {
            Ok(kind) => kind,
            Err(AuthError::Passkey(PasskeyError::PossibleClone)) => {
                self.core
                    .audit
                    .record(
                        SecurityEvent::new(EventKind::PasskeyCloned, user, now)
                            .client(&client)
                            .details(json!({"credential_id": credential.id})),
                    )
                    .await;
                return Err(PasskeyError::InvalidAssertion.into());
            }
            Err(e) => return Err(e),
        };
        let account = self.core.user(user).await?;
        if account.disabled_at.is_some() {
            return Err(AuthError::AccountDisabled);
        }
        client.amr = vec![kind.to_owned(), "user".to_owned(), "mfa".to_owned()];
        let pair = self
            .sign_in
            .open_session(&account, client, fingerprint, now)
            .await?;
        Ok(pair)
    }

    /// Removes every passkey of `user` (an operator action, recorded as
    /// `passkeys_removed_by_admin`); how many.
    pub async fn remove_all(&self, user: UserId, now: Timestamp) -> Result<u64, AuthError> {
        let removed = self.passkeys().remove_all(user).await?;
        self.core
            .audit
            .record(
                SecurityEvent::new(EventKind::PasskeysRemovedByAdmin, user, now)
                    .details(json!({"removed": removed})),
            )
            .await;
        Ok(removed)
    }
}
