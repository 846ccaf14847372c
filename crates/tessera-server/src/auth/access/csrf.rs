//! The CSRF token of a session: the value of the `__Host-tessera_csrf` cookie that a
//! cookie-authenticated state change must echo in `X-CSRF-Token`.
//!
//! It is an HMAC of the session id under a key derived (with its own label) from the
//! server's refresh key, so it is bound to the session: a value planted by a sibling
//! subdomain or taken from the attacker's own session does not match the session of the
//! access (or refresh) cookie it travels with, and only the server can make one.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use tessera_core::ids::SessionId;

use super::AccessService;

/// Label of the CSRF key derived from the refresh key (never used for anything else).
const KEY_LABEL: &[u8] = b"tessera/csrf-key/v1";

fn mac(key: &[u8], msg: &[u8]) -> Option<[u8; 32]> {
    let mut m = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).ok()?;
    m.update(msg);
    Some(m.finalize().into_bytes().into())
}

impl AccessService {
    /// The CSRF token of `session` (base64url, 43 characters). Empty only if HMAC could not
    /// be keyed, which [`AccessService::csrf_matches`] never accepts.
    pub fn csrf_token(&self, session: SessionId) -> String {
        mac(self.core.refresh_key.as_bytes(), KEY_LABEL)
            .and_then(|key| mac(&key, session.as_bytes()))
            .map(|t| URL_SAFE_NO_PAD.encode(t))
            .unwrap_or_default()
    }

    /// Whether `presented` is the CSRF token of `session` (constant-time comparison).
    pub fn csrf_matches(&self, session: SessionId, presented: &str) -> bool {
        let expected = self.csrf_token(session);
        !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use tessera_core::ids::SessionId;

    #[test]
    fn the_token_depends_on_the_session_and_the_key() {
        let a = super::mac(b"k1", b"label").unwrap();
        let b = super::mac(b"k2", b"label").unwrap();
        assert_ne!(a, b);
        let s1 = SessionId::new();
        let s2 = SessionId::new();
        assert_ne!(
            super::mac(&a, s1.as_bytes()).unwrap(),
            super::mac(&a, s2.as_bytes()).unwrap()
        );
    }
}
