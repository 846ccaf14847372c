//! The first proof of an account's email.
//!
//! A registration proves nothing: whoever registers an address may not own it, and could add
//! a passkey, a linked provider account or a second factor before the owner ever arrives
//! (account pre-hijacking). The owner's way in is a password reset, and its link reaching
//! the mailbox is the first proof. Such a reset removes every sign-in method and second
//! factor added before it, so the registrant keeps no way in (a passkey would sign in
//! without the new password, a linked identity through the provider) and the owner is not
//! locked out by a factor they never enrolled. Accounts whose email is proven (by an earlier
//! reset, by a federated sign-up, or created before this rule) lose nothing.

use serde::Serialize;
use tessera_core::ids::UserId;

use super::Passwords;
use crate::accounts::passkeys::Passkeys;
use crate::auth::error::AuthError;
use crate::federation::identities::Identities;

/// What a first proof removed (the `removed` details of its `password_reset_completed`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Unproven {
    /// Passkeys removed.
    pub passkeys: u64,
    /// Linked provider accounts removed.
    pub identities: u64,
    /// Whether a TOTP enrolment or recovery codes were removed.
    pub second_factor: bool,
}

impl Passwords {
    /// For a reset of `user`'s account: when its email has never been proven, removes its
    /// passkeys, linked identities, TOTP enrolment and recovery codes, and says what went;
    /// `None` (nothing touched) when it has been. Idempotent, so it runs before the reset
    /// link is spent: a failure leaves the link for a retry, which removes the rest.
    pub(super) async fn forget_unproven(
        &self,
        user: UserId,
    ) -> Result<Option<Unproven>, AuthError> {
        if self.core.users.email_proven(user).await? {
            return Ok(None);
        }
        let db = self.core.users.database();
        let passkeys = Passkeys::new(db.clone()).remove_all(user).await?;
        let identities = Identities::new(db.clone()).remove_all(user).await?;
        let second_factor = self.core.mfa.remove(user).await?;
        self.core.profiles.forget(user);
        Ok(Some(Unproven {
            passkeys,
            identities,
            second_factor,
        }))
    }
}
