//! The first proof of an account's email.
//!
//! A registration proves nothing: whoever registers an address may not own it, and could add
//! a passkey or a linked provider account before the owner ever arrives (account
//! pre-hijacking). The owner's way in is a password reset, and its link reaching the mailbox
//! is the first proof. Such a reset removes every passkey and linked identity added before
//! it, so the registrant keeps no way in: a passkey would sign in without the new password,
//! a linked identity through the provider.
//!
//! A second factor is never removed by a reset, first or not: mailbox access alone must not
//! take it off an account whose owner enrolled it (a new user who never reset would lose it
//! to whoever reads their mail). A factor the registrant planted therefore stays, and the
//! owner, who cannot answer it, asks an operator to reset it (`DELETE
//! /v1/admin/users/{id}/mfa`); the registrant, without the password, cannot use it either.
//! Accounts whose email is proven (by an earlier reset, by a federated sign-up, or created
//! before this rule) lose nothing.

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
}

impl Unproven {
    fn and(self, other: Unproven) -> Unproven {
        Unproven {
            passkeys: self.passkeys + other.passkeys,
            identities: self.identities + other.identities,
        }
    }
}

impl Passwords {
    /// For a reset of `user`'s account: when its email has never been proven, removes its
    /// passkeys and linked identities, and says what went; `None` (nothing touched) when it
    /// has been. Idempotent: it runs before the reset link is spent (a failure leaves the
    /// link for a retry) and once more after the password is replaced and every session
    /// revoked (what a registrant's request in flight added in between), with `so_far` what
    /// the first run removed.
    pub(super) async fn forget_unproven(
        &self,
        user: UserId,
        so_far: Option<Unproven>,
    ) -> Result<Option<Unproven>, AuthError> {
        if so_far.is_none() && self.core.users.email_proven(user).await? {
            return Ok(None);
        }
        let db = self.core.users.database();
        let removed = Unproven {
            passkeys: Passkeys::new(db.clone()).remove_all(user).await?,
            identities: Identities::new(db.clone()).remove_all(user).await?,
        };
        Ok(Some(so_far.unwrap_or_default().and(removed)))
    }
}
