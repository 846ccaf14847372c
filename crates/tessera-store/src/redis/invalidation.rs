//! Revocation notices: what the scripts publish when they revoke something, for the
//! near-caches of `tessera-guard`.
//!
//! Every script that revokes (`revoke_session`, `revoke_user`, `revoke_access_token`, the
//! theft branch of `rotate_refresh`, eviction and a raised token version in
//! `create_session`) runs `PUBLISH <prefix>revocations <message>` in the same atomic step
//! (`publish_revocation` in `scripts/prelude.lua`). A plain `PUBLISH` reaches every
//! subscriber of every node, also on Cluster, so one subscription anywhere sees them all.
//!
//! Delivery is at most once: a subscriber that was disconnected has missed messages and must
//! treat everything it cached as stale (the guard flushes its cache and bypasses it until it
//! is subscribed again). The memory backend publishes nothing: it lives in one process,
//! where nothing caches its answers.

use tessera_core::ids::{Jti, SessionId, UserId};

/// The channel the scripts publish on: `<prefix>revocations` (for the default prefix,
/// `ts:revocations`).
pub fn revocations_channel(prefix: &str) -> String {
    format!("{prefix}revocations")
}

/// One revocation notice. Wire format (ASCII, ids hyphenated UUIDs): `u:UID`, `s:UID:SID`,
/// `t:UID:JTI`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// Every session and access token of the user (logout-all, ban, admin revoke, or a
    /// raised token version).
    User(UserId),
    /// One session and all its access tokens (logout, session delete, theft, eviction).
    Session(UserId, SessionId),
    /// One access token (single-token and RFC 7009 revocation).
    Token(UserId, Jti),
}

impl Revocation {
    /// Parses a message; `None` for anything not in the wire format (a subscriber ignores
    /// it — but see the module docs: a subscriber that cannot trust a message should flush).
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut parts = text.split(':');
        let kind = parts.next()?;
        let user: UserId = parts.next()?.parse().ok()?;
        let id = parts.next();
        if parts.next().is_some() {
            return None;
        }
        match (kind, id) {
            ("u", None) => Some(Revocation::User(user)),
            ("s", Some(s)) => Some(Revocation::Session(user, s.parse().ok()?)),
            ("t", Some(j)) => Some(Revocation::Token(user, j.parse().ok()?)),
            _ => None,
        }
    }

    /// The user the notice is about.
    pub fn user(&self) -> UserId {
        match *self {
            Revocation::User(u) | Revocation::Session(u, _) | Revocation::Token(u, _) => u,
        }
    }
}

impl std::fmt::Display for Revocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Revocation::User(u) => write!(f, "u:{u}"),
            Revocation::Session(u, s) => write!(f, "s:{u}:{s}"),
            Revocation::Token(u, j) => write!(f, "t:{u}:{j}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_garbage_is_refused() {
        let u = UserId::new();
        for r in [
            Revocation::User(u),
            Revocation::Session(u, SessionId::new()),
            Revocation::Token(u, Jti::new()),
        ] {
            assert_eq!(Revocation::parse(r.to_string().as_bytes()), Some(r));
            assert_eq!(r.user(), u);
        }
        for bad in [
            "",
            "u",
            "x:{u}",
            "u:not-a-uuid",
            "s:{u}",
            "t:{u}:x",
            "u:{u}:extra",
        ] {
            let bad = bad.replace("{u}", &u.to_string());
            assert_eq!(Revocation::parse(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(revocations_channel("ts:"), "ts:revocations");
    }
}
