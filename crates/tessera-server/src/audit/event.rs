//! Security events.

use serde::Serialize;
use serde_json::Value;
use tessera_core::ids::{SessionId, UserId};
use tessera_core::time::Timestamp;
use uuid::Uuid;

use crate::device::ClientInfo;

/// What happened. The string forms are the API's stable `type` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Signed in.
    Login,
    /// A wrong password for this account.
    LoginFailed,
    /// Signed out of one session.
    Logout,
    /// Signed out of every session.
    LogoutAll,
    /// A refresh token was replayed after rotation: the session was revoked (possible theft).
    RefreshTokenReused,
    /// The oldest session was ended to honour the session limit.
    SessionEvicted,
    /// The user ended one of their sessions (a device).
    SessionRevoked,
    /// The user revoked one access token.
    TokenRevoked,
    /// An administrator ended every session.
    SessionsRevokedByAdmin,
    /// An administrator banned the account.
    AccountBanned,
    /// An administrator lifted the ban.
    AccountUnbanned,
    /// A password-reset mail was sent.
    PasswordResetRequested,
    /// The password was reset with a mailed token; every session was revoked.
    PasswordResetCompleted,
    /// The user changed the password; the other sessions were revoked.
    PasswordChanged,
    /// TOTP confirmed: two-factor sign-in is on.
    MfaEnabled,
    /// TOTP removed.
    MfaDisabled,
    /// An operator removed the second factor (TOTP, recovery codes, trusted devices); the
    /// user was told by mail.
    MfaResetByAdmin,
    /// A wrong second-factor code on a sign-in challenge.
    MfaFailed,
    /// A recovery code was used (and is gone).
    RecoveryCodeUsed,
    /// A device became trusted to skip the second factor.
    TrustedDeviceAdded,
    /// A trusted device was revoked.
    TrustedDeviceRemoved,
    /// Failed sign-ins used up a lockout budget: further attempts wait.
    AccountLocked,
    /// Signed in through an external provider (`details.provider`).
    FederatedLogin,
    /// A provider account was linked (`details.provider`).
    IdentityLinked,
    /// A provider account was unlinked (`details.provider`).
    IdentityUnlinked,
    /// A passkey was registered.
    PasskeyAdded,
    /// A passkey was removed.
    PasskeyRemoved,
    /// A passkey's signature counter went backwards: a cloned authenticator may be in use
    /// (the sign-in was refused).
    PasskeyCloned,
    /// An operator removed every passkey of the account (`details.removed`).
    PasskeysRemovedByAdmin,
}

impl EventKind {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Login => "login",
            EventKind::LoginFailed => "login_failed",
            EventKind::Logout => "logout",
            EventKind::LogoutAll => "logout_all",
            EventKind::RefreshTokenReused => "refresh_token_reused",
            EventKind::SessionEvicted => "session_evicted",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::TokenRevoked => "token_revoked",
            EventKind::SessionsRevokedByAdmin => "sessions_revoked_by_admin",
            EventKind::AccountBanned => "account_banned",
            EventKind::AccountUnbanned => "account_unbanned",
            EventKind::MfaEnabled => "mfa_enabled",
            EventKind::MfaDisabled => "mfa_disabled",
            EventKind::MfaResetByAdmin => "mfa_reset_by_admin",
            EventKind::MfaFailed => "mfa_failed",
            EventKind::RecoveryCodeUsed => "recovery_code_used",
            EventKind::TrustedDeviceAdded => "trusted_device_added",
            EventKind::TrustedDeviceRemoved => "trusted_device_removed",
            EventKind::AccountLocked => "account_locked",
            EventKind::FederatedLogin => "federated_login",
            EventKind::IdentityLinked => "identity_linked",
            EventKind::IdentityUnlinked => "identity_unlinked",
            EventKind::PasskeyAdded => "passkey_added",
            EventKind::PasskeyRemoved => "passkey_removed",
            EventKind::PasskeyCloned => "passkey_cloned",
            EventKind::PasskeysRemovedByAdmin => "passkeys_removed_by_admin",
            EventKind::PasswordResetRequested => "password_reset_requested",
            EventKind::PasswordResetCompleted => "password_reset_completed",
            EventKind::PasswordChanged => "password_changed",
        }
    }
}

/// One event, as stored and as listed by `GET /v1/security-events`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SecurityEvent {
    /// UUIDv7 (time-ordered).
    pub id: Uuid,
    /// Stable event name.
    #[serde(rename = "type")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// When, RFC 3339.
    pub at: String,
    /// Peer address of the request that caused it, if any.
    pub ip: Option<String>,
    /// Session concerned, if any.
    #[schema(value_type = Option<uuid::Uuid>)]
    pub session_id: Option<SessionId>,
    /// Device label (`Firefox 128 on Linux`), if known.
    pub device: Option<String>,
    /// Event-specific details.
    #[schema(value_type = Object)]
    pub details: Value,
    /// Whose account (not serialised: events are listed per user).
    #[serde(skip)]
    #[schema(ignore)]
    pub user: UserId,
    /// Milliseconds since the epoch.
    #[serde(skip)]
    #[schema(ignore)]
    pub at_ms: Timestamp,
}

impl SecurityEvent {
    /// A new event at `now`.
    pub fn new(kind: EventKind, user: UserId, now: Timestamp) -> Self {
        Self {
            id: Uuid::now_v7(),
            kind: kind.as_str(),
            at: crate::rfc3339::format(now),
            ip: None,
            session_id: None,
            device: None,
            details: Value::Object(Default::default()),
            user,
            at_ms: now,
        }
    }

    /// Sets the session.
    pub fn session(mut self, session: SessionId) -> Self {
        self.session_id = Some(session);
        self
    }

    /// Sets IP and device label from a client record.
    pub fn client(mut self, client: &ClientInfo) -> Self {
        self.ip = client.ip.map(|ip| ip.to_string());
        self.device = device_label(client);
        self
    }

    /// Sets the details.
    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// `Firefox 128 on Linux`, `work laptop (Firefox 128 on Linux)`, or `None` when nothing is
/// known.
pub fn device_label(c: &ClientInfo) -> Option<String> {
    let agent = match (c.browser.is_empty(), c.os.is_empty()) {
        (false, false) => Some(format!("{} on {}", c.browser, c.os)),
        (false, true) => Some(c.browser.clone()),
        (true, false) => Some(c.os.clone()),
        (true, true) => None,
    };
    match (&c.device_name, agent) {
        (Some(n), Some(a)) => Some(format!("{n} ({a})")),
        (Some(n), None) => Some(n.clone()),
        (None, a) => a,
    }
}
