//! Fingerprint binding of access tokens (OWASP "token sidejacking" defence).
//!
//! At sign-in a random value is set as a hardened cookie (`__Secure-Fgp`: HttpOnly, Secure,
//! SameSite=Strict) and its SHA-256 goes into the access token as `fgp` and into the session
//! as its binding. A token presented without the matching cookie is refused, so a token
//! stolen from JavaScript, a log or a proxy is useless on its own; a refresh without the
//! cookie is refused by the store before anything rotates.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use tessera_core::refresh::TokenHash;

/// Name of the fingerprint cookie.
pub const COOKIE: &str = "__Secure-Fgp";

/// A fingerprint cookie value.
#[derive(Clone)]
pub struct Fingerprint(String);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

impl Fingerprint {
    /// A fresh random value (256 bits, base64url).
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        Self(URL_SAFE_NO_PAD.encode(b))
    }

    /// The value a client sent back in its cookie.
    pub fn from_cookie(value: &str) -> Self {
        Self(value.to_owned())
    }

    /// The cookie value.
    pub fn value(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the cookie value: the session's binding.
    pub fn binding(&self) -> TokenHash {
        TokenHash::of(self.0.as_bytes())
    }

    /// The `fgp` claim: base64url of [`Self::binding`].
    pub fn claim(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.binding().as_bytes())
    }

    /// Whether this cookie matches a token's `fgp` claim (constant time).
    pub fn matches(&self, claim: &str) -> bool {
        self.claim().as_bytes().ct_eq(claim.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_is_the_sha256_of_the_cookie_and_only_it_matches() {
        let f = Fingerprint::generate();
        let again = Fingerprint::from_cookie(f.value());
        assert!(again.matches(&f.claim()));
        assert!(!Fingerprint::from_cookie("forged").matches(&f.claim()));
        assert!(!Fingerprint::generate().matches(&f.claim()));
        assert_eq!(f.claim().len(), 43);
    }
}
