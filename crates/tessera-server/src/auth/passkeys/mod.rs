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
    CreationChallengeResponse, DiscoverableAuthentication, DiscoverableKey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Webauthn, WebauthnError,
};
use zeroize::Zeroizing;

use super::AuthCore;
use super::error::AuthError;
use super::fingerprint::Fingerprint;
use super::pair::TokenPair;
use super::sign_in::SignInService;
use crate::accounts::email::Email;
use crate::accounts::passkeys::{AddPasskeyError, Passkeys, Removed, StoredPasskey};
use crate::audit::{EventKind, SecurityEvent};
use crate::device::ClientInfo;
pub use check::PasskeyCheck;
pub use error::PasskeyError;

/// How long a ceremony waits for its answer.
pub const CEREMONY_TTL: Duration = Duration::from_secs(300);
/// Longest passkey name.
pub const MAX_NAME: usize = 64;

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

/// A sign-in waiting for the authenticator's answer.
#[derive(Serialize, Deserialize)]
enum SignInCeremony {
    /// Any user's discoverable credential.
    Discoverable(DiscoverableAuthentication),
    /// One of this user's passkeys (the email was given).
    ForUser(UserId, PasskeyAuthentication),
}

/// A passkey as listed.
#[derive(Clone, Debug, Serialize)]
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

    /// `POST /v1/passkeys/register/options`: after the password, the creation options.
    pub async fn register_options(
        &self,
        user: UserId,
        password: Zeroizing<String>,
        client: &ClientInfo,
        now: Timestamp,
    ) -> Result<(CeremonyId, CreationChallengeResponse), AuthError> {
        let user = self.core.user(user).await?;
        self.core
            .prove_password(&user, password, client, "register_passkey", now)
            .await?;
        let exclude = self
            .passkeys()
            .of_user(user.id)
            .await?
            .iter()
            .map(|p| p.credential.cred_id().clone())
            .collect();
        let display = user.name.clone().unwrap_or_else(|| user.email.clone());
        let (options, state) = self
            .webauthn()?
            .start_passkey_registration(*user.id.as_uuid(), &user.email, &display, Some(exclude))
            .map_err(|e| AuthError::Internal(format!("webauthn: {e}")))?;
        let id = CeremonyId::generate();
        self.put(
            &id.key("reg"),
            &Registration {
                user: user.id,
                state,
            },
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
        if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(PasskeyError::InvalidName.into());
        }
        let id = CeremonyId::parse(ceremony).ok_or(PasskeyError::InvalidChallenge)?;
        let raw = self
            .core
            .store
            .take(&id.key("reg"), now)
            .await?
            .ok_or(PasskeyError::InvalidChallenge)?;
        let reg: Registration =
            serde_json::from_slice(&raw).map_err(|_| PasskeyError::InvalidChallenge)?;
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

    /// `POST /v1/auth/passkey/options`: request options for one account's passkeys (its
    /// email given and it has some), else for any discoverable credential. Which of the two
    /// an unknown email gets is the second: the answer does not say whether it exists.
    pub async fn sign_in_options(
        &self,
        email: Option<&str>,
        ip: Option<IpAddr>,
        now: Timestamp,
    ) -> Result<(CeremonyId, RequestChallengeResponse), AuthError> {
        self.core.limits.before_request(ip, now).await?;
        let user = match email.and_then(Email::parse) {
            Some(e) => self.core.users.by_email(&e).await?,
            None => None,
        };
        let for_user = match &user {
            Some(u) => self.check.options_for(u.id).await?.map(|o| (u.id, o)),
            None => None,
        };
        let (options, ceremony) = match for_user {
            Some((user, (o, s))) => (o, SignInCeremony::ForUser(user, s)),
            None => {
                let (o, s) = self
                    .webauthn()?
                    .start_discoverable_authentication()
                    .map_err(|e| AuthError::Internal(format!("webauthn: {e}")))?;
                (o, SignInCeremony::Discoverable(s))
            }
        };
        let id = CeremonyId::generate();
        self.put(&id.key("auth"), &ceremony, now).await?;
        Ok((id, options))
    }

    /// `POST /v1/auth/passkey`: checks the assertion against its ceremony (taken first:
    /// single use) and opens a session.
    pub async fn sign_in(
        &self,
        ceremony: &str,
        credential: &PublicKeyCredential,
        mut client: ClientInfo,
        fingerprint: Option<&Fingerprint>,
        now: Timestamp,
    ) -> Result<TokenPair, AuthError> {
        self.core.limits.before_request(client.ip, now).await?;
        let id = CeremonyId::parse(ceremony).ok_or(PasskeyError::InvalidChallenge)?;
        let raw = self
            .core
            .store
            .take(&id.key("auth"), now)
            .await?
            .ok_or(PasskeyError::InvalidChallenge)?;
        let ceremony: SignInCeremony =
            serde_json::from_slice(&raw).map_err(|_| PasskeyError::InvalidChallenge)?;
        let (user, result) = match ceremony {
            SignInCeremony::Discoverable(state) => {
                let (uuid, cred_id) = self
                    .webauthn()?
                    .identify_discoverable_authentication(credential)
                    .map_err(|_| PasskeyError::InvalidAssertion)?;
                let user = UserId::from_uuid(uuid);
                let mine = self.passkeys().of_user(user).await?;
                let key = mine
                    .iter()
                    .find(|p| p.credential.cred_id().as_slice() == cred_id)
                    .ok_or(PasskeyError::InvalidAssertion)?;
                let result = self.webauthn()?.finish_discoverable_authentication_v2(
                    credential,
                    state,
                    DiscoverableKey::from(&key.credential),
                );
                (user, result)
            }
            SignInCeremony::ForUser(user, state) => (
                user,
                self.webauthn()?
                    .finish_passkey_authentication(credential, &state),
            ),
        };
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
        let kind = self.check.used(user, &result, now).await?;
        let account = self.core.user(user).await?;
        if account.disabled_at.is_some() {
            return Err(AuthError::AccountDisabled);
        }
        client.amr = vec![kind.to_owned(), "user".to_owned(), "mfa".to_owned()];
        let pair = self
            .sign_in
            .open_session(&account, client, fingerprint, now)
            .await?;
        self.core
            .metrics
            .login(crate::app_metrics::LoginResult::Success);
        Ok(pair)
    }

    /// Removes every passkey of `user` (an operator action); how many.
    pub async fn remove_all(&self, user: UserId) -> Result<u64, AuthError> {
        Ok(self.passkeys().remove_all(user).await?)
    }

    async fn put<T: Serialize>(
        &self,
        key: &EphemeralKey,
        value: &T,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let bytes = serde_json::to_vec(value).map_err(|e| AuthError::Internal(e.to_string()))?;
        self.core
            .store
            .put_if_absent(key, &bytes, CEREMONY_TTL, now)
            .await?;
        Ok(())
    }
}
