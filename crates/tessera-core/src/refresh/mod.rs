//! Refresh tokens: opaque, 256-bit random, never JWTs.
//!
//! A refresh token carries its routing ids in clear so the state store can find its record
//! without any global index, and the *generation* of its family (0 for the token of a
//! sign-in, one more at each rotation) under a MAC:
//!
//! ```text
//! tsr_<base64url( user id (16) ‖ session id (16) ‖ generation (u32 BE, 4) ‖ secret (32) ‖ tag (16) )>
//! tag = HMAC-SHA256(refresh key, "tessera/refresh-generation/v1" ‖ user ‖ session ‖ generation ‖ secret)[..16]
//! ```
//!
//! The ids are not secret, so the store never decides theft on them alone: a presented token
//! whose hash the store does not hold is theft only when its generation is older than the
//! family's current one, and the generation is only believed once [`RefreshToken::parse`]
//! verified the tag (constant time) with the [`RefreshKey`]. A `RefreshToken` value is
//! therefore always authentic in its generation: built here with the key, or parsed with the
//! tag verified. Without the key nobody can mint a token of an old generation, so nobody can
//! sign a victim out by guessing ids.
//!
//! Tokens issued before generations existed have the *legacy* form
//! `tsr_<base64url(user ‖ session ‖ secret)>` (64 bytes, no generation, no tag). They are still
//! accepted ([`RefreshToken::generation`] is `None`) so an upgrade signs nobody out; their
//! successor is a tagged token of generation 1.
//!
//! Only [`RefreshToken::hash`] is ever stored. A rotation's successor is *derived*
//! ([`RefreshToken::successor`]) from the presented token, the [`RefreshKey`] and a random
//! [`SuccessorSeed`] kept with the session, so a replay inside the grace window can be given
//! the very same successor (same secret, same generation) again without the store ever
//! holding a usable token.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ids::{SessionId, UserId};

const PREFIX: &str = "tsr_";
/// Bytes of the MAC tag bound to the generation.
const TAG_LEN: usize = 16;
/// Raw length of a token: ids, generation, secret, tag.
const RAW_LEN: usize = 16 + 16 + 4 + 32 + TAG_LEN;
/// Raw length of a legacy token (before generations): ids and secret.
const LEGACY_LEN: usize = 16 + 16 + 32;
/// Longest string [`RefreshToken::parse`] looks at; anything longer is refused unread.
pub const MAX_ENCODED_LEN: usize = 128;

/// Why a string is not a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefreshTokenError {
    /// Missing the `tsr_` prefix, wrong length or not base64url.
    #[error("malformed refresh token")]
    Malformed,
    /// Well-formed, but the generation tag does not verify under the refresh key: not a
    /// token this server issued (or an altered one). Never evidence of theft.
    #[error("refresh token tag does not verify")]
    BadTag,
}

/// SHA-256 of a token's bytes: what the store keeps instead of the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Self {
        Self(Sha256::digest(data).into())
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// 16 random bytes stored with a session at each rotation; with the presented token and the
/// [`RefreshKey`] they determine the successor token.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SuccessorSeed(pub [u8; 16]);

impl SuccessorSeed {
    /// A fresh random seed.
    pub fn random() -> Self {
        let mut b = [0u8; 16];
        rand::fill(&mut b);
        Self(b)
    }
}

/// The server-side secret that successor derivation is keyed with. Every Tessera instance
/// behind one state store must hold the same key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RefreshKey([u8; 32]);

impl RefreshKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        Self(b)
    }

    /// From stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw key, for persisting it.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RefreshKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshKey(..)")
    }
}

/// An opaque refresh token.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct RefreshToken {
    #[zeroize(skip)]
    user: UserId,
    #[zeroize(skip)]
    session: SessionId,
    /// `None`: the legacy form (no generation, no tag).
    #[zeroize(skip)]
    generation: Option<u32>,
    secret: [u8; 32],
    /// The verified (or freshly computed) tag; zeros for the legacy form.
    tag: [u8; TAG_LEN],
}

impl RefreshToken {
    /// The first token of a new family (generation 0), with a fresh 256-bit secret, tagged
    /// with `key`.
    pub fn generate(user: UserId, session: SessionId, key: &RefreshKey) -> Self {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        Self::tagged(user, session, 0, secret, key)
    }

    /// A token of the legacy form (no generation, no tag), as issued before generations
    /// existed. For compatibility tests and tools only: the server never issues one.
    pub fn generate_legacy(user: UserId, session: SessionId) -> Self {
        let mut secret = [0u8; 32];
        rand::fill(&mut secret);
        Self {
            user,
            session,
            generation: None,
            secret,
            tag: [0u8; TAG_LEN],
        }
    }

    fn tagged(
        user: UserId,
        session: SessionId,
        generation: u32,
        secret: [u8; 32],
        key: &RefreshKey,
    ) -> Self {
        // `tag` only fails for a key HMAC refuses, which no key does; a zero tag then simply
        // never verifies (see `parse`), it is never accepted.
        let tag = generation_tag(key, &user, &session, generation, &secret).unwrap_or_default();
        Self {
            user,
            session,
            generation: Some(generation),
            secret,
            tag,
        }
    }

    /// Parses the wire form and verifies the generation tag with `key` (constant time).
    /// Never panics; refuses anything that is not exactly a token of either form, and a
    /// tagged token whose tag does not verify ([`RefreshTokenError::BadTag`]). A legacy
    /// token has no tag to verify: its [`generation`](Self::generation) is `None`.
    pub fn parse(s: &str, key: &RefreshKey) -> Result<Self, RefreshTokenError> {
        let mut raw = decode(s)?;
        let out = match raw.len() {
            LEGACY_LEN => {
                let (user, session) = ids(&raw);
                let mut secret = [0u8; 32];
                secret.copy_from_slice(&raw[32..]);
                Ok(Self {
                    user,
                    session,
                    generation: None,
                    secret,
                    tag: [0u8; TAG_LEN],
                })
            }
            RAW_LEN => {
                let (user, session) = ids(&raw);
                let mut g = [0u8; 4];
                g.copy_from_slice(&raw[32..36]);
                let generation = u32::from_be_bytes(g);
                let mut secret = [0u8; 32];
                secret.copy_from_slice(&raw[36..68]);
                let mut tag = [0u8; TAG_LEN];
                tag.copy_from_slice(&raw[68..]);
                let good = generation_tag(key, &user, &session, generation, &secret)
                    .is_some_and(|want| bool::from(want.ct_eq(&tag)));
                if good {
                    Ok(Self {
                        user,
                        session,
                        generation: Some(generation),
                        secret,
                        tag,
                    })
                } else {
                    secret.zeroize();
                    Err(RefreshTokenError::BadTag)
                }
            }
            _ => Err(RefreshTokenError::Malformed),
        };
        raw.zeroize();
        out
    }

    /// The routing ids of a token of either form, *without* verifying anything: for tools
    /// and tests that need to know whose token it is, never for a decision.
    pub fn route(s: &str) -> Result<(UserId, SessionId), RefreshTokenError> {
        let mut raw = decode(s)?;
        let out = match raw.len() {
            LEGACY_LEN | RAW_LEN => Ok(ids(&raw)),
            _ => Err(RefreshTokenError::Malformed),
        };
        raw.zeroize();
        out
    }

    /// The wire form handed to the client (the form the token was issued or parsed in).
    pub fn encode(&self) -> String {
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.extend_from_slice(self.user.as_bytes());
        raw.extend_from_slice(self.session.as_bytes());
        if let Some(g) = self.generation {
            raw.extend_from_slice(&g.to_be_bytes());
        }
        raw.extend_from_slice(&self.secret);
        if self.generation.is_some() {
            raw.extend_from_slice(&self.tag);
        }
        let s = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(&raw));
        raw.zeroize();
        s
    }

    /// The user this token belongs to (routing only: not authenticated until the store
    /// matched the hash).
    pub fn user(&self) -> UserId {
        self.user
    }

    /// The session (refresh family) this token belongs to.
    pub fn session(&self) -> SessionId {
        self.session
    }

    /// The token's generation in its family, authenticated by the tag: `Some(0)` for a
    /// sign-in's token, one more per rotation; `None` for a legacy token (unknown).
    pub fn generation(&self) -> Option<u32> {
        self.generation
    }

    /// The generation of this token's [`successor`](Self::successor): one more than this
    /// one's (saturating at `u32::MAX`, four billion rotations away), 1 after a legacy token.
    pub fn successor_generation(&self) -> u32 {
        self.generation.map_or(1, |g| g.saturating_add(1))
    }

    /// What the store keeps: SHA-256 over everything that identifies the token — ids,
    /// generation (tagged form only) and secret — so a hash is bound to its session and its
    /// generation. A legacy token hashes as it always did (ids and secret), so sessions
    /// opened before generations existed still match their token.
    pub fn hash(&self) -> TokenHash {
        let mut h = Sha256::new();
        h.update(self.user.as_bytes());
        h.update(self.session.as_bytes());
        if let Some(g) = self.generation {
            h.update(g.to_be_bytes());
        }
        h.update(self.secret);
        TokenHash(h.finalize().into())
    }

    /// The token that replaces this one when it is rotated with `seed`: generation
    /// [`successor_generation`](Self::successor_generation), tagged with `key`.
    /// Deterministic: the same token, key and seed always give the same successor.
    pub fn successor(&self, key: &RefreshKey, seed: &SuccessorSeed) -> RefreshToken {
        // HMAC accepts keys of any length, so this cannot fail; fall back to a random secret
        // (which only costs idempotency) rather than panic.
        let secret = match <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0) {
            Ok(mut mac) => {
                mac.update(b"tessera/refresh-successor/v1");
                mac.update(self.user.as_bytes());
                mac.update(self.session.as_bytes());
                mac.update(&self.secret);
                mac.update(&seed.0);
                mac.finalize().into_bytes().into()
            }
            Err(_) => {
                let mut secret = [0u8; 32];
                rand::fill(&mut secret);
                secret
            }
        };
        Self::tagged(
            self.user,
            self.session,
            self.successor_generation(),
            secret,
            key,
        )
    }
}

/// `tsr_` + base64url, bounded by [`MAX_ENCODED_LEN`]; the raw bytes of any length.
fn decode(s: &str) -> Result<Vec<u8>, RefreshTokenError> {
    if s.len() > MAX_ENCODED_LEN {
        return Err(RefreshTokenError::Malformed);
    }
    let body = s.strip_prefix(PREFIX).ok_or(RefreshTokenError::Malformed)?;
    URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| RefreshTokenError::Malformed)
}

/// The routing ids at the start of a raw token (at least 32 bytes: callers check the length).
fn ids(raw: &[u8]) -> (UserId, SessionId) {
    let mut user = [0u8; 16];
    let mut session = [0u8; 16];
    user.copy_from_slice(&raw[..16]);
    session.copy_from_slice(&raw[16..32]);
    (UserId::from_bytes(user), SessionId::from_bytes(session))
}

/// The generation tag: HMAC-SHA256 under the refresh key over a domain label, the ids, the
/// generation and the secret, truncated to 128 bits. `None` only if HMAC refused the key
/// (it accepts any length); callers treat that as "does not verify".
fn generation_tag(
    key: &RefreshKey,
    user: &UserId,
    session: &SessionId,
    generation: u32,
    secret: &[u8; 32],
) -> Option<[u8; TAG_LEN]> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).ok()?;
    mac.update(b"tessera/refresh-generation/v1");
    mac.update(user.as_bytes());
    mac.update(session.as_bytes());
    mac.update(&generation.to_be_bytes());
    mac.update(secret);
    let full = mac.finalize().into_bytes();
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&full[..TAG_LEN]);
    Some(tag)
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("user", &self.user)
            .field("session", &self.session)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> (RefreshToken, RefreshKey) {
        let k = RefreshKey::generate();
        (
            RefreshToken::generate(UserId::new(), SessionId::new(), &k),
            k,
        )
    }

    /// The raw bytes of `s` (a token of either form).
    fn raw(s: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(&s[4..]).unwrap()
    }

    fn wire(raw: &[u8]) -> String {
        format!("tsr_{}", URL_SAFE_NO_PAD.encode(raw))
    }

    #[test]
    fn encode_parse_round_trip_keeps_ids_generation_and_hash() {
        let (t, k) = token();
        let s = t.encode();
        assert!(s.starts_with("tsr_"));
        assert!(s.len() <= MAX_ENCODED_LEN);
        assert_eq!(raw(&s).len(), RAW_LEN);
        assert_eq!(s.matches('.').count(), 0, "never looks like a JWT");
        let back = RefreshToken::parse(&s, &k).unwrap();
        assert_eq!(back.user(), t.user());
        assert_eq!(back.session(), t.session());
        assert_eq!(back.generation(), Some(0));
        assert!(back.hash().ct_eq(&t.hash()));
        assert_eq!(back.encode(), s);
        assert_eq!(RefreshToken::route(&s), Ok((t.user(), t.session())));
    }

    #[test]
    fn successors_count_generations_and_round_trip() {
        let (t, k) = token();
        let mut cur = t;
        for n in 1..=3 {
            cur = cur.successor(&k, &SuccessorSeed::random());
            assert_eq!(cur.generation(), Some(n));
            let back = RefreshToken::parse(&cur.encode(), &k).unwrap();
            assert_eq!(back.generation(), Some(n));
            assert!(back.hash().ct_eq(&cur.hash()));
        }
        assert_eq!(cur.successor_generation(), 4);
    }

    #[test]
    fn the_tag_binds_generation_ids_and_secret_to_the_key() {
        let (t, k) = token();
        let t = t.successor(&k, &SuccessorSeed::random()); // generation 1
        let s = t.encode();
        // Another key: refused.
        assert_eq!(
            RefreshToken::parse(&s, &RefreshKey::generate()),
            Err(RefreshTokenError::BadTag)
        );
        // Any single altered byte (ids, generation, secret, tag): refused as a bad tag,
        // never accepted with another generation.
        let good = raw(&s);
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert_eq!(
                RefreshToken::parse(&wire(&bad), &k),
                Err(RefreshTokenError::BadTag),
                "byte {i}"
            );
        }
        // An older generation claimed with the tag of the real one: refused.
        let mut older = good.clone();
        older[32..36].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(
            RefreshToken::parse(&wire(&older), &k),
            Err(RefreshTokenError::BadTag)
        );
    }

    #[test]
    fn legacy_tokens_still_parse_hash_as_before_and_rotate_into_generation_one() {
        let k = RefreshKey::generate();
        let t = RefreshToken::generate_legacy(UserId::new(), SessionId::new());
        let s = t.encode();
        assert_eq!(raw(&s).len(), LEGACY_LEN);
        let back = RefreshToken::parse(&s, &k).unwrap();
        assert_eq!(back.generation(), None);
        assert_eq!(back.encode(), s);
        // The hash of the format before generations: SHA-256(user ‖ session ‖ secret).
        let r = raw(&s);
        assert!(back.hash().ct_eq(&TokenHash::of(&r)));
        let next = back.successor(&k, &SuccessorSeed::random());
        assert_eq!(next.generation(), Some(1));
        assert_eq!(next.session(), t.session());
        assert!(RefreshToken::parse(&next.encode(), &k).is_ok());
    }

    #[test]
    fn malformed_inputs_are_refused_without_panic() {
        let (t, k) = token();
        let ok = t.encode();
        let legacy = RefreshToken::generate_legacy(UserId::new(), SessionId::new()).encode();
        let raw_ok = raw(&ok);
        for bad in [
            "".to_owned(),
            "tsr_".to_owned(),
            "tsr_abc".to_owned(),
            "xyz_AAAA".to_owned(),
            ok[4..].to_owned(),
            ok[..ok.len() - 1].to_owned(),
            format!("{ok}A"),
            format!("{legacy}A"),
            legacy[..legacy.len() - 1].to_owned(),
            format!("tsr_{}", "A".repeat(500)),
            "tsr_!!!!".to_owned(),
            "tsr_ünïcödé".to_owned(),
            // Lengths between and around the two forms.
            wire(&raw_ok[..RAW_LEN - 1]),
            wire(&raw_ok[..LEGACY_LEN + 4]),
            wire(&raw_ok[..LEGACY_LEN - 1]),
            wire(&[raw_ok.as_slice(), &[0]].concat()),
        ] {
            assert_eq!(
                RefreshToken::parse(&bad, &k),
                Err(RefreshTokenError::Malformed),
                "{bad}"
            );
            assert_eq!(
                RefreshToken::route(&bad),
                Err(RefreshTokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn successor_is_deterministic_per_seed_and_key() {
        let (t, k) = token();
        let seed = SuccessorSeed::random();
        let a = t.successor(&k, &seed);
        assert_eq!(a.encode(), t.successor(&k, &seed).encode());
        assert_ne!(a.encode(), t.encode());
        assert_ne!(
            a.encode(),
            t.successor(&k, &SuccessorSeed::random()).encode()
        );
        assert_ne!(
            a.encode(),
            t.successor(&RefreshKey::generate(), &seed).encode()
        );
        assert_eq!(a.session(), t.session());
    }

    #[test]
    fn hash_binds_the_session_and_the_generation() {
        let (t, _) = token();
        let mut other = t.clone();
        other.session = SessionId::new();
        assert!(!t.hash().ct_eq(&other.hash()));
        let mut later = t.clone();
        later.generation = Some(1);
        assert!(!t.hash().ct_eq(&later.hash()));
        let mut legacy = t.clone();
        legacy.generation = None;
        assert!(!t.hash().ct_eq(&legacy.hash()));
    }

    #[test]
    fn generation_saturates_instead_of_wrapping() {
        let (mut t, k) = token();
        t.generation = Some(u32::MAX);
        assert_eq!(t.successor_generation(), u32::MAX);
        assert_eq!(
            t.successor(&k, &SuccessorSeed::random()).generation(),
            Some(u32::MAX)
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let (t, _) = token();
        let d = format!("{t:?}");
        assert!(d.contains("generation"));
        assert!(!d.contains("secret"), "{d}");
    }
}
