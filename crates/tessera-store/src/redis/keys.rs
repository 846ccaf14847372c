//! Key names. Every key of one user carries the hash tag `{u:<user-id>}`, so all of them live
//! in one Cluster slot and one script can touch any of them.

use tessera_core::ids::{Jti, SessionId, UserId};

use crate::ephemeral::{EphemeralKey, Scope};

/// Builds the keys of one user under a configured prefix.
#[derive(Clone, Debug)]
pub(crate) struct UserKeys {
    /// `<prefix>{u:<user-id>}:`: what every key of the user starts with.
    base: String,
}

impl UserKeys {
    pub(crate) fn new(prefix: &str, user: UserId) -> Self {
        Self {
            base: format!("{prefix}{{u:{user}}}:"),
        }
    }

    /// `…:ver` — the token version (durable counter, no TTL).
    pub(crate) fn version(&self) -> String {
        format!("{}ver", self.base)
    }

    /// `…:sessions` — the user's session index.
    pub(crate) fn index(&self) -> String {
        format!("{}sessions", self.base)
    }

    /// `…:s:` — what session keys start with; scripts append a session id to it.
    pub(crate) fn session_prefix(&self) -> String {
        format!("{}s:", self.base)
    }

    /// `…:s:<session-id>` — one session record, its refresh family and access allowlist.
    pub(crate) fn session(&self, id: SessionId) -> String {
        format!("{}s:{id}", self.base)
    }

    /// `…:deny:<jti>` — a denylist-mode revoked access token.
    pub(crate) fn denied(&self, jti: Jti) -> String {
        format!("{}deny:{jti}", self.base)
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

/// The key of an ephemeral record: `<prefix>{u:<user-id>}:e:<name>` or
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
        let tag = format!("{{u:{user}}}");
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
