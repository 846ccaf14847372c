//! Proofs a user gives before a sensitive step: the password and a second-factor code, each
//! checked under the failure budgets of sign-in ([`crate::limits`]).
//!
//! Every check takes its budget *before* the slow part (Argon2, the TOTP window, the
//! recovery-code hashes) and gives it back only when the proof holds, so concurrent guesses
//! through any route — sign-in, the second step, enrolling or removing a factor, changing the
//! password — share one budget and never get more checks than it allows. A stolen access
//! token therefore buys no password or code oracle: each of those routes costs the same
//! budget as a sign-in.
//!
//! Also here: `AuthCore::check_totp`, a TOTP code against a secret, each 30 s step accepted
//! once per user as a proof, and once more to confirm an enrolment ([`TotpUse`]).

use serde_json::{Value, json};
use tessera_core::time::Timestamp;
use zeroize::Zeroizing;

use tessera_core::ids::UserId;
use tessera_store::EphemeralKey;

use super::AuthCore;
use crate::accounts::User;
use crate::audit::{EventKind, SecurityEvent};
use crate::auth::error::AuthError;
use crate::device::ClientInfo;
use crate::limits::Reservation;
use crate::mfa::recovery;
use crate::mfa::totp::TotpFactor;

/// How long a used TOTP step is remembered (the code window and then some).
const STEP_REPLAY_TTL: std::time::Duration = std::time::Duration::from_secs(150);

/// What a TOTP code is checked for; each use has its own record of the steps already taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TotpUse {
    /// Confirming an enrolment: shows the authenticator holds the secret. The same step may
    /// then still prove one sign-in (a user enrols, then signs in within the same 30 s).
    Enrolment,
    /// Proving the user at sign-in or before a sensitive step. One step proves once,
    /// whatever the step is for: a code used (or watched, or relayed) at sign-in cannot
    /// then remove the factor, and the reverse.
    Proof,
}

/// The kind of second-factor code that proved the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeKind {
    /// A TOTP code (a 30 s step proves once per user: [`TotpUse::Proof`]).
    Totp,
    /// A recovery code (deleted when used).
    RecoveryCode,
}

impl AuthCore {
    /// Checks `password` against `user`'s under the sign-in budgets of `client`'s address and
    /// `user`'s account. A wrong password writes `login_failed` (with `details.action`) and,
    /// when it used up an account budget, `account_locked`, and is
    /// [`AuthError::InvalidCredentials`]; an empty budget is [`AuthError::RateLimited`]
    /// before any hashing.
    pub(crate) async fn prove_password(
        &self,
        user: &User,
        password: Zeroizing<String>,
        client: &ClientInfo,
        action: &'static str,
        now: Timestamp,
    ) -> Result<(), AuthError> {
        let reservation = self
            .limits
            .reserve_password(client.ip, &user.email, now)
            .await?;
        if self
            .hasher
            .verify(
                password,
                user.has_password().then(|| user.password_hash.clone()),
            )
            .await?
        {
            self.limits.refund(reservation, now).await?;
            return Ok(());
        }
        self.password_failed(user, client, &reservation, json!({ "action": action }), now)
            .await;
        Err(AuthError::InvalidCredentials)
    }

    /// The events of a wrong password for a known account; the reservation stays charged.
    pub(crate) async fn password_failed(
        &self,
        user: &User,
        client: &ClientInfo,
        reservation: &Reservation,
        details: Value,
        now: Timestamp,
    ) {
        self.audit
            .record(
                SecurityEvent::new(EventKind::LoginFailed, user.id, now)
                    .client(client)
                    .details(details),
            )
            .await;
        if reservation.took_the_last() {
            self.audit
                .record(
                    SecurityEvent::new(EventKind::AccountLocked, user.id, now)
                        .client(client)
                        .details(json!({"reason": "too many failed sign-ins"})),
                )
                .await;
        }
    }

    /// Checks a second-factor `code` of `user` (a TOTP code of the confirmed factor, each
    /// step once, or a recovery code, which is used up) under the code budgets of `client`'s
    /// address and of `user`. A wrong code writes `mfa_failed` with `details` and answers
    /// `Ok(None)`; the caller turns it into its own error. No confirmed factor is
    /// [`AuthError::MfaNotEnabled`].
    pub(crate) async fn prove_code(
        &self,
        user: &User,
        code: &str,
        client: &ClientInfo,
        details: Value,
        now: Timestamp,
    ) -> Result<Option<CodeKind>, AuthError> {
        let reservation = self.limits.reserve_code(client.ip, user.id, now).await?;
        // A factor that cannot be opened is an error (503 mfa_unavailable), never "none".
        let record = self
            .mfa
            .confirmed(user.id)
            .await?
            .ok_or(AuthError::MfaNotEnabled)?;
        let proved = if recovery::plausible(code) {
            self.mfa
                .consume_recovery_code(user.id, code)
                .await?
                .then_some(CodeKind::RecoveryCode)
        } else {
            self.check_totp(
                user.id,
                &record.secret,
                &user.email,
                code,
                TotpUse::Proof,
                now,
            )
            .await?
            .then_some(CodeKind::Totp)
        };
        if proved.is_some() {
            self.limits.refund(reservation, now).await?;
            return Ok(proved);
        }
        self.audit
            .record(
                SecurityEvent::new(EventKind::MfaFailed, user.id, now)
                    .client(client)
                    .details(details),
            )
            .await;
        Ok(None)
    }

    /// A code against a TOTP secret, each step accepted once per user and [`TotpUse`] (RFC
    /// 6238 §5.2): a code that proved the user once never proves them again, for any step,
    /// while the code that confirmed an enrolment may still complete the first sign-in in
    /// the same 30 s.
    pub(crate) async fn check_totp(
        &self,
        user: UserId,
        secret: &str,
        email: &str,
        code: &str,
        used_for: TotpUse,
        now: Timestamp,
    ) -> Result<bool, AuthError> {
        let factor = TotpFactor::from_base32(secret, &self.policy.totp_issuer, email)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        let Some(step) = factor.check(code, now.as_secs().max(0) as u64) else {
            return Ok(false);
        };
        let marker = match used_for {
            TotpUse::Enrolment => format!("totp:confirm:{step}"),
            TotpUse::Proof => format!("totp:proof:{step}"),
        };
        let marker = EphemeralKey::user(user, marker);
        Ok(self
            .store
            .put_if_absent(&marker, b"1", STEP_REPLAY_TTL, now)
            .await?)
    }
}
