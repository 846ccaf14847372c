//! The data key: encrypts secrets at rest and keys stored hashes.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 256-bit key from the key file. Encryption is XChaCha20-Poly1305 with a random 192-bit
/// nonce and the owner's id as associated data, so a ciphertext copied to another user's row
/// does not decrypt.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// A ciphertext that does not decrypt (wrong key, wrong owner, corrupt).
#[derive(Debug, thiserror::Error)]
#[error("sealed value does not open")]
pub struct OpenError;

impl DataKey {
    /// From stored bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// The raw key, to seal it under the master key for storage (see `keys::vault`).
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key's public name, stored beside every value it seals or keys: 16 base64url
    /// characters of an HMAC-SHA-256 of a fixed label under the key. It identifies the key
    /// without revealing it, so a row sealed with another key is recognised as such instead
    /// of merely failing to open.
    pub fn id(&self) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(b"tessera/data-key-id/v1");
        let digest = mac.finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&digest[..12])
    }

    /// Encrypts `plain` for `owner`: `base64url(nonce ‖ ciphertext)`.
    pub fn seal(&self, owner: &str, plain: &[u8]) -> String {
        let cipher = XChaCha20Poly1305::new(&self.0.into());
        let mut nonce = [0u8; 24];
        rand::fill(&mut nonce);
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: owner.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Decrypts what [`Self::seal`] produced for the same `owner`.
    pub fn open(&self, owner: &str, sealed: &str) -> Result<Vec<u8>, OpenError> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| OpenError)?;
        if raw.len() < 24 + 16 {
            return Err(OpenError);
        }
        let (nonce, body) = raw.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| OpenError)?;
        XChaCha20Poly1305::new(&self.0.into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| OpenError)
    }

    /// HMAC-SHA-256 of `parts` under this key, hex: a stored hash that is useless to anyone
    /// who has the database but not the key.
    pub fn keyed_hash(&self, parts: &[&[u8]]) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.0) else {
            return String::new();
        };
        for p in parts {
            mac.update(&(p.len() as u32).to_be_bytes());
            mac.update(p);
        }
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_owner_and_key() {
        let k = DataKey::from_bytes([7; 32]);
        let s = k.seal("alice", b"JBSWY3DPEHPK3PXP");
        assert_eq!(k.open("alice", &s).unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(k.open("bob", &s).is_err());
        assert!(DataKey::from_bytes([8; 32]).open("alice", &s).is_err());
        assert!(k.open("alice", "garbage").is_err());
        assert_ne!(
            k.seal("alice", b"x"),
            k.seal("alice", b"x"),
            "random nonces"
        );
    }

    #[test]
    fn key_ids_name_the_key_without_being_it() {
        let k = DataKey::from_bytes([7; 32]);
        assert_eq!(k.id(), DataKey::from_bytes([7; 32]).id());
        assert_eq!(k.id().len(), 16);
        assert_ne!(k.id(), DataKey::from_bytes([8; 32]).id());
        assert!(!k.id().contains(&URL_SAFE_NO_PAD.encode([7u8; 32])[..8]));
    }

    #[test]
    fn keyed_hash_depends_on_key_and_framing() {
        let k = DataKey::from_bytes([1; 32]);
        assert_eq!(k.keyed_hash(&[b"a", b"bc"]), k.keyed_hash(&[b"a", b"bc"]));
        assert_ne!(k.keyed_hash(&[b"a", b"bc"]), k.keyed_hash(&[b"ab", b"c"]));
        assert_ne!(
            k.keyed_hash(&[b"a"]),
            DataKey::from_bytes([2; 32]).keyed_hash(&[b"a"])
        );
    }
}
