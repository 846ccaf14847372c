//! [`StoredHash`]: what the store keeps of a refresh-token hash or of a session binding.

use tessera_core::refresh::TokenHash;

/// The first 16 bytes of a [`TokenHash`] (a SHA-256): the only form in which refresh-token
/// hashes (session fields `h`, `p`) and fingerprint bindings (`b`) are stored and compared,
/// by both backends. This is the one place where the hash is truncated.
///
/// 128 bits are ample here: the hashed values are 256-bit random secrets (or a random
/// fingerprint), so finding a value with a given stored hash is a 2^128 preimage search, and
/// a match is only ever looked for inside one session's record (routed by the ids in the
/// token), never across all sessions, so collisions between sessions do not matter. It saves
/// 16 bytes per stored hash (`h`, `p` and `b`: up to 48 bytes per session).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StoredHash([u8; 16]);

impl StoredHash {
    /// The stored form of `h`.
    pub fn of(h: &TokenHash) -> Self {
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.as_bytes()[..16]);
        Self(out)
    }

    /// The 16 raw bytes (a script argument, or a durable copy's column).
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// A stored hash read back from a durable copy (what [`as_bytes`](Self::as_bytes) gave).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &StoredHash) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |d, (a, b)| d | (a ^ b))
            == 0
    }
}

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_16_bytes_and_compares_them() {
        let mut raw = [7u8; 32];
        raw[0] = 1;
        raw[20] = 9;
        let a = StoredHash::of(&TokenHash(raw));
        assert_eq!(a.as_bytes()[..], raw[..16]);
        // Bytes past the 16th do not matter; any of the first 16 does.
        let mut tail = raw;
        tail[31] = 0;
        assert!(a.ct_eq(&StoredHash::of(&TokenHash(tail))));
        let mut head = raw;
        head[15] = 0;
        assert!(!a.ct_eq(&StoredHash::of(&TokenHash(head))));
    }
}
