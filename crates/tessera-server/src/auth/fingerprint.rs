//! Fingerprint binding of access tokens (OWASP "token sidejacking" defence).
//!
//! At sign-in a random value is set as a hardened cookie (`__Secure-Fgp`: HttpOnly, Secure,
//! SameSite=Strict) and its SHA-256 goes into the access token as `fgp` and into the session
//! as its binding. A token presented without the matching cookie is refused, so a token
//! stolen from JavaScript, a log or a proxy is useless on its own; a refresh without the
//! cookie is refused by the store before anything rotates.
//!
//! [`Fingerprinting`] makes every decision about it — whether a sign-in gets a cookie, what a
//! session and a token are bound to, whether a presented token and cookie match — so the
//! switch is read and cookies are compared nowhere else.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use tessera_core::refresh::TokenHash;

use super::error::AuthError;

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

/// Whether fingerprint binding is on (`fingerprint` setting), and what follows from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fingerprinting {
    on: bool,
}

impl Fingerprinting {
    /// Binding on or off.
    pub const fn new(on: bool) -> Self {
        Self { on }
    }

    /// Whether binding is on (a sign-in sets the cookie, a sign-out clears it).
    pub const fn is_on(self) -> bool {
        self.on
    }

    /// A fresh cookie value for a sign-in, when binding is on.
    pub fn for_sign_in(self) -> Option<Fingerprint> {
        self.on.then(Fingerprint::generate)
    }

    /// What a new session and its tokens are bound to: the presented value when binding is
    /// on, nothing when it is off (a cookie sent anyway binds nothing).
    pub fn bound(self, presented: Option<&Fingerprint>) -> Option<&Fingerprint> {
        presented.filter(|_| self.on)
    }

    /// The binding a new session keeps (what its refreshes must present): the presented
    /// value's when binding is on.
    pub fn session_binding(self, presented: Option<&Fingerprint>) -> Option<TokenHash> {
        self.bound(presented).map(Fingerprint::binding)
    }

    /// The `fgp` claim of an access token signed for a request that presented `presented`.
    pub fn claim(self, presented: Option<&Fingerprint>) -> Option<String> {
        self.bound(presented).map(Fingerprint::claim)
    }

    /// What a refresh presents to the store: the cookie's binding whatever the switch says.
    /// The store compares it with the session's binding, so a session opened while binding
    /// was on stays bound, and an unbound session ignores it.
    pub fn presented_binding(presented: Option<&Fingerprint>) -> Option<TokenHash> {
        presented.map(Fingerprint::binding)
    }

    /// Whether an access token with `fgp` claim `claim` may be used by a request carrying
    /// `cookie`: with binding on, or for a token that carries a claim anyway, the cookie must
    /// match the claim; otherwise [`AuthError::FingerprintMismatch`].
    pub fn admit(self, claim: Option<&str>, cookie: Option<&Fingerprint>) -> Result<(), AuthError> {
        if !self.on && claim.is_none() {
            return Ok(());
        }
        match (claim, cookie) {
            (Some(claim), Some(cookie)) if cookie.matches(claim) => Ok(()),
            _ => Err(AuthError::FingerprintMismatch),
        }
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

    #[test]
    fn a_claim_needs_its_cookie_and_binding_on_needs_a_claim() {
        let f = Fingerprint::generate();
        let (on, off) = (Fingerprinting::new(true), Fingerprinting::new(false));
        let claim = f.claim();
        for p in [on, off] {
            assert!(p.admit(Some(&claim), Some(&f)).is_ok());
            assert!(p.admit(Some(&claim), None).is_err());
            assert!(
                p.admit(Some(&claim), Some(&Fingerprint::generate()))
                    .is_err()
            );
        }
        assert!(off.admit(None, None).is_ok());
        assert!(off.admit(None, Some(&f)).is_ok());
        assert!(on.admit(None, Some(&f)).is_err());
        assert!(off.claim(Some(&f)).is_none() && off.for_sign_in().is_none());
        assert_eq!(on.claim(Some(&f)), Some(claim));
    }
}
