//! Key names. Every key of one user carries the hash tag `{u:<user-id>}`, so all of them live
//! in one Cluster slot and one script can touch any of them.

use tessera_core::ids::{Jti, SessionId, UserId};

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
        ] {
            assert!(key.starts_with(&format!("ts:{tag}:")), "{key}");
            assert_eq!(key.matches('{').count(), 1, "{key}");
        }
        assert!(k.session(SessionId::new()).starts_with(&k.session_prefix()));
    }
}
