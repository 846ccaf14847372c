//! Key names — built here and nowhere else. Every key of one user carries the hash tag
//! `{u:<user-id>}`, so all of them live in one Cluster slot and one script can touch any of
//! them.
//!
//! Ids in key names and index members are in their compact form ([`compact`]): the 16 bytes
//! in base64url without padding, 22 characters instead of a hyphenated UUID's 36. That saves
//! about 80 bytes per session with one session per user (key names, the index member, and
//! one jemalloc size class less for the session key). Revocation notices still carry
//! hyphenated UUIDs: `publish_revocation` in `prelude.lua` converts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_core::ids::{Jti, SessionId, UserId};

use crate::ephemeral::{EphemeralKey, Scope};

/// The compact form of a 16-byte id (user, session or access-token id) in key names and
/// index members: base64url without padding, 22 characters from `A–Z a–z 0–9 - _` (never
/// `{`, `}`, `:` or a glob character).
pub fn compact(id: &[u8; 16]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}

/// A session id from its compact form (an index member in a script reply); `None` for
/// anything else.
pub(crate) fn session_from_member(member: &[u8]) -> Option<SessionId> {
    let raw = URL_SAFE_NO_PAD.decode(member).ok()?;
    Some(SessionId::from_bytes(raw.try_into().ok()?))
}

/// Builds the keys of one user under a configured prefix.
#[derive(Clone, Debug)]
pub struct UserKeys {
    /// `<prefix>{u:<compact user id>}:`: what every key of the user starts with.
    base: String,
}

impl UserKeys {
    /// The keys of `user` under `prefix`.
    pub fn new(prefix: &str, user: UserId) -> Self {
        Self {
            base: format!("{prefix}{{u:{}}}:", compact(user.as_bytes())),
        }
    }

    /// `…:ver` — the token version (durable counter, no TTL).
    pub fn version(&self) -> String {
        format!("{}ver", self.base)
    }

    /// `…:sessions` — the user's session index (members: compact session ids).
    pub fn index(&self) -> String {
        format!("{}sessions", self.base)
    }

    /// The index member (and session-key suffix) of session `id`: its compact form.
    pub(crate) fn member(id: SessionId) -> String {
        compact(id.as_bytes())
    }

    /// `…:s:` — what session keys start with; scripts append a session id to it.
    pub(crate) fn session_prefix(&self) -> String {
        format!("{}s:", self.base)
    }

    /// `…:s:<session-id>` — one session record, its refresh family and access allowlist.
    pub fn session(&self, id: SessionId) -> String {
        format!("{}s:{}", self.base, Self::member(id))
    }

    /// `…:gone:<session-id>` — a session the store revoked on its own (theft, RFC 7009 by
    /// proof, eviction), kept until it would have died: `restore_session.lua` refuses to
    /// bring it back from a durable copy whose deletion has not happened yet.
    pub(crate) fn gone(&self, id: SessionId) -> String {
        format!("{}gone:{}", self.base, Self::member(id))
    }

    /// `…:gone:` — what tombstone keys start with; scripts append a session id to it.
    pub(crate) fn gone_prefix(&self) -> String {
        format!("{}gone:", self.base)
    }

    /// `…:deny:<jti>` — a denylist-mode revoked access token.
    pub(crate) fn denied(&self, jti: Jti) -> String {
        format!("{}deny:{}", self.base, compact(jti.as_bytes()))
    }

    /// `…:ev` — the user's recent security events.
    pub(crate) fn events(&self) -> String {
        format!("{}ev", self.base)
    }

    /// `…:e:<name>` — an ephemeral record of the user (name validated by the caller).
    pub(crate) fn ephemeral(&self, name: &str) -> String {
        format!("{}e:{name}", self.base)
    }

    /// `…:m:<map>` — a per-user map with per-entry expiry (name validated by the caller).
    pub(crate) fn map(&self, map: &str) -> String {
        format!("{}m:{map}", self.base)
    }
}

/// The key of an ephemeral record: `<prefix>{u:<compact user id>}:e:<name>` or
/// `<prefix>{t:<tag>}:e:<name>` (tag and name validated by the caller: no braces, so the
/// hash tag is exactly the scope).
pub(crate) fn ephemeral_key(prefix: &str, key: &EphemeralKey) -> String {
    match &key.scope {
        Scope::User(user) => UserKeys::new(prefix, *user).ephemeral(&key.name),
        Scope::Tag(tag) => format!("{prefix}{{t:{tag}}}:e:{}", key.name),
    }
}

/// `<prefix>stats` — the global statistics hash (durable counters, no TTL; no hash tag).
pub(crate) fn stats_key(prefix: &str) -> String {
    format!("{prefix}stats")
}

/// The `SCAN MATCH` pattern of every session index under `prefix`: `<prefix>{u:*}:sessions`,
/// with glob metacharacters of the prefix escaped.
pub(crate) fn index_pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 16);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("{u:*}:sessions");
    out
}

/// For a session index key `<base>sessions`, the user's version key and session-key prefix.
pub(crate) fn from_index(index: &str) -> Option<(String, String)> {
    let base = index.strip_suffix("sessions")?;
    Some((format!("{base}ver"), format!("{base}s:")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_carries_the_user_hash_tag() {
        let user = UserId::new();
        let k = UserKeys::new("ts:", user);
        let tag = format!("{{u:{}}}", compact(user.as_bytes()));
        for key in [
            k.version(),
            k.index(),
            k.session(SessionId::new()),
            k.denied(Jti::new()),
            k.events(),
            k.ephemeral("totp:1"),
            k.map("trusted"),
            ephemeral_key("ts:", &EphemeralKey::user(user, "n")),
        ] {
            assert!(key.starts_with(&format!("ts:{tag}:")), "{key}");
            assert_eq!(key.matches('{').count(), 1, "{key}");
        }
        assert!(k.session(SessionId::new()).starts_with(&k.session_prefix()));
        assert_eq!(
            from_index(&k.index()),
            Some((k.version(), k.session_prefix()))
        );
    }

    #[test]
    fn ids_are_compact_and_round_trip() {
        let user = UserId::from_bytes([0xfb; 16]);
        let session = SessionId::from_bytes([0xff; 16]);
        let k = UserKeys::new("ts:", user);
        assert_eq!(k.version(), "ts:{u:-_v7-_v7-_v7-_v7-_v7-w}:ver");
        assert_eq!(
            k.session(session),
            "ts:{u:-_v7-_v7-_v7-_v7-_v7-w}:s:_____________________w"
        );
        for _ in 0..100 {
            let s = SessionId::new();
            let m = UserKeys::member(s);
            assert_eq!(m.len(), 22);
            assert!(
                !m.contains(['{', '}', ':', '*', '?', '[', ']', '\\']),
                "{m}"
            );
            assert_eq!(session_from_member(m.as_bytes()), Some(s));
        }
        assert_eq!(
            session_from_member(SessionId::new().to_string().as_bytes()),
            None
        );
        assert_eq!(session_from_member(b""), None);
    }

    #[test]
    fn tag_keys_carry_the_tag_as_hash_tag() {
        let key = ephemeral_key("ts:", &EphemeralKey::tag("203.0.113.9", "login"));
        assert_eq!(key, "ts:{t:203.0.113.9}:e:login");
    }

    #[test]
    fn index_pattern_escapes_glob_characters() {
        assert_eq!(index_pattern("ts:"), "ts:{u:*}:sessions");
        assert_eq!(
            index_pattern("a*b?[c]\\:"),
            "a\\*b\\?\\[c\\]\\\\:{u:*}:sessions"
        );
    }
}
