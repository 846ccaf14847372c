//! [`PasskeyCheck`]: what both passkey sign-in and passkey second factor use — the relying
//! party (webauthn-rs) and the stored passkeys, and what a verified assertion changes.

use std::sync::Arc;

use tessera_core::ids::UserId;
use tessera_core::time::Timestamp;
use webauthn_rs::prelude::{
    AuthenticationResult, PasskeyAuthentication, RequestChallengeResponse, Webauthn,
};

use super::error::PasskeyError;
use crate::accounts::passkeys::Passkeys;
use crate::auth::error::AuthError;

/// See the module documentation.
#[derive(Clone)]
pub struct PasskeyCheck {
    webauthn: Option<Arc<Webauthn>>,
    passkeys: Passkeys,
}

impl std::fmt::Debug for PasskeyCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeyCheck").finish_non_exhaustive()
    }
}

impl PasskeyCheck {
    /// The relying party `webauthn` (`None`: passkeys are off) over the passkeys stored in
    /// `passkeys`.
    pub fn new(webauthn: Option<Arc<Webauthn>>, passkeys: Passkeys) -> Self {
        Self { webauthn, passkeys }
    }

    /// The relying party; [`PasskeyError::Unavailable`] when passkeys are off.
    pub fn webauthn(&self) -> Result<&Webauthn, PasskeyError> {
        self.webauthn.as_deref().ok_or(PasskeyError::Unavailable)
    }

    /// The stored passkeys.
    pub fn passkeys(&self) -> &Passkeys {
        &self.passkeys
    }

    /// Request options naming `user`'s passkeys, and the state that checks the answer;
    /// `None` when the user has none.
    pub async fn options_for(
        &self,
        user: UserId,
    ) -> Result<Option<(RequestChallengeResponse, PasskeyAuthentication)>, AuthError> {
        let Some(webauthn) = self.webauthn.as_deref() else {
            return Ok(None);
        };
        let mine = self.passkeys.of_user(user).await?;
        if mine.is_empty() {
            return Ok(None);
        }
        let creds: Vec<_> = mine.into_iter().map(|p| p.credential).collect();
        webauthn
            .start_passkey_authentication(&creds)
            .map(Some)
            .map_err(|e| AuthError::Internal(format!("webauthn: {e}")))
    }

    /// After webauthn-rs verified `result` for `user`: the passkey's counter and backup
    /// state are saved as the library advises, and its last use. Returns the RFC 8176
    /// `amr` value of the key: `swk` when it may be synced (backup eligible), else `hwk`.
    pub async fn used(
        &self,
        user: UserId,
        result: &AuthenticationResult,
        now: Timestamp,
    ) -> Result<&'static str, AuthError> {
        let mut mine = self.passkeys.of_user(user).await?;
        let used = mine
            .iter_mut()
            .find(|p| p.credential.cred_id() == result.cred_id())
            .ok_or(PasskeyError::InvalidAssertion)?;
        // A counter that did not grow (the stored one is the newest) is a cloned
        // authenticator's: the check the library made may have used an older copy (the
        // second step keeps the credentials of when the challenge was sent).
        let changed = used.credential.update_credential(result);
        if result.counter() > 0 && changed != Some(true) {
            return Err(PasskeyError::PossibleClone.into());
        }
        if !self.passkeys.used(used, result.counter(), now).await? {
            return Err(PasskeyError::PossibleClone.into());
        }
        Ok(if result.backup_eligible() {
            "swk"
        } else {
            "hwk"
        })
    }
}
