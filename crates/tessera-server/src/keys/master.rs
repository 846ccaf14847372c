//! The master key: the one secret that seals every key stored in SQL.
//!
//! It comes from `TESSERA_MASTER_KEY` (the value), `TESSERA_MASTER_KEY_FILE` (a file holding
//! the value), or, when neither is set, from `<data dir>/master.key`, which the embedded
//! default generates (mode 0600) on the first start against a database that holds no keys.
//! The value is 32 bytes in base64url (43 characters, no padding; standard base64 and
//! padding are accepted too): anything shorter, longer or visibly not random is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// File name of the generated master key inside the data directory.
pub const GENERATED_FILE: &str = "master.key";

/// The fewest distinct byte values accepted in a master key: 32 random bytes have about 30;
/// a key of repeated or patterned bytes (`AAAA…`, a counter) is refused as not random.
const MIN_DISTINCT_BYTES: usize = 12;

/// A 256-bit key-encryption key. Sealing is XChaCha20-Poly1305 with a random 192-bit nonce;
/// the associated data names what is sealed (`signing:<kid>`, `refresh`, `data`), so a
/// sealed value moved to another row does not open.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Why a master key value is refused. Never repeats the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MasterKeyFormatError {
    /// Not base64 / base64url.
    #[error(
        "not base64url: the master key is 32 random bytes in base64url, e.g. the output of \
         `openssl rand -base64 32 | tr '+/' '-_' | tr -d '='`"
    )]
    NotBase64,
    /// Decodes to another length.
    #[error(
        "{0} bytes: the master key must be exactly 32 random bytes (43 base64url characters), \
         e.g. the output of `openssl rand -base64 32 | tr '+/' '-_' | tr -d '='`"
    )]
    Length(usize),
    /// Decodes to 32 bytes that are visibly not random.
    #[error(
        "only {0} distinct byte values: the master key must be 32 random bytes, not a pattern \
         (generate one with `openssl rand -base64 32 | tr '+/' '-_' | tr -d '='`)"
    )]
    NotRandom(usize),
    /// Decodes to 32 printable ASCII characters: a passphrase encoded, not random bytes (32
    /// random bytes are all printable once in about 10^14).
    #[error(
        "32 printable characters: the master key must be 32 random bytes, not an encoded \
         passphrase (generate one with `openssl rand -base64 32 | tr '+/' '-_' | tr -d '='`)"
    )]
    Printable,
}

/// A sealed value that does not open: wrong master key, wrong row, or corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("sealed key does not open")]
pub struct UnsealError;

/// Reading or generating the master key file failed.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyFileError {
    /// File system.
    #[error("master key file {path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The file's content is not a master key.
    #[error("master key file {path}: {source}")]
    Format {
        /// Which file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: MasterKeyFormatError,
    },
}

impl MasterKey {
    /// From raw bytes (tests, and a freshly generated key).
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// A new random key.
    pub fn generate() -> Self {
        let mut b = [0u8; 32];
        rand::fill(&mut b);
        Self(b)
    }

    /// Parses the documented encoding: 32 bytes as base64url (padding and the standard
    /// alphabet accepted), surrounding white space ignored.
    pub fn parse(text: &str) -> Result<Self, MasterKeyFormatError> {
        let t = text.trim();
        let unpadded = t.trim_end_matches('=');
        let raw = URL_SAFE_NO_PAD
            .decode(unpadded)
            .or_else(|_| {
                STANDARD.decode(
                    format!("{unpadded}{}", "=".repeat((4 - unpadded.len() % 4) % 4)).as_bytes(),
                )
            })
            .map_err(|_| MasterKeyFormatError::NotBase64)?;
        let len = raw.len();
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| MasterKeyFormatError::Length(len))?;
        let distinct = {
            let mut seen = [false; 256];
            bytes.iter().for_each(|b| seen[usize::from(*b)] = true);
            seen.iter().filter(|s| **s).count()
        };
        if distinct < MIN_DISTINCT_BYTES {
            return Err(MasterKeyFormatError::NotRandom(distinct));
        }
        if bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
            return Err(MasterKeyFormatError::Printable);
        }
        Ok(Self(bytes))
    }

    /// The documented encoding (base64url, no padding).
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The key's public name, stored beside the keys it seals: 16 base64url characters of
    /// an HMAC-SHA-256 of a fixed label under the key. A wrong master key is recognised by
    /// its id before anything is opened, and named in the error without revealing either.
    pub fn id(&self) -> String {
        let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(b"tessera/master-key-id/v1");
        let digest = mac.finalize().into_bytes();
        URL_SAFE_NO_PAD.encode(&digest[..12])
    }

    /// Seals `plain` as `label`: `base64url(nonce ‖ ciphertext)`.
    pub fn seal(&self, label: &str, plain: &[u8]) -> String {
        let mut nonce = [0u8; 24];
        rand::fill(&mut nonce);
        let sealed = XChaCha20Poly1305::new(&self.0.into())
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plain,
                    aad: label.as_bytes(),
                },
            )
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Opens what [`Self::seal`] sealed under the same `label`.
    pub fn open(&self, label: &str, sealed: &str) -> Result<Vec<u8>, UnsealError> {
        let raw = URL_SAFE_NO_PAD.decode(sealed).map_err(|_| UnsealError)?;
        if raw.len() < 24 + 16 {
            return Err(UnsealError);
        }
        let (nonce, body) = raw.split_at(24);
        let nonce: [u8; 24] = nonce.try_into().map_err(|_| UnsealError)?;
        XChaCha20Poly1305::new(&self.0.into())
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: body,
                    aad: label.as_bytes(),
                },
            )
            .map_err(|_| UnsealError)
    }

    /// Reads a master key file (`TESSERA_MASTER_KEY_FILE`, or the generated one).
    pub fn read_file(path: &Path) -> Result<Self, MasterKeyFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| MasterKeyFileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|source| MasterKeyFormatError::into_file(source, path))
    }

    /// The generated key of `data_dir`, `None` when there is none.
    pub fn read_generated(data_dir: &Path) -> Result<Option<Self>, MasterKeyFileError> {
        let path = Self::generated_path(data_dir);
        if !path.exists() {
            return Ok(None);
        }
        Self::read_file(&path).map(Some)
    }

    /// Generates a key into `<data_dir>/master.key` (mode 0600). The file appears whole or
    /// not at all: the key is written and synced to a private temporary file that is then
    /// hard-linked into place, which fails when the file exists; an existing file is read
    /// instead, so two processes sharing a data directory end with one key and neither ever
    /// reads a half-written file.
    pub fn generate_into(data_dir: &Path) -> Result<Self, MasterKeyFileError> {
        let path = Self::generated_path(data_dir);
        let io = |source| MasterKeyFileError::Io {
            path: path.clone(),
            source,
        };
        let key = Self::generate();
        let tmp = data_dir.join(format!(
            ".{GENERATED_FILE}.{}.tmp",
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 9]>())
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let written = opts.open(&tmp).and_then(|mut f| {
            f.write_all(format!("{}\n", key.encode()).as_bytes())?;
            f.sync_all()
        });
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, &path));
        // The temporary name goes in every case; failing to remove it loses nothing.
        let _ = std::fs::remove_file(&tmp);
        match linked {
            // The directory entry is made durable before anything is sealed under the key:
            // a power cut after the database committed keys sealed under it must not leave
            // a data directory without it.
            Ok(()) => sync_dir(data_dir).map(|()| key).map_err(io),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::read_file(&path),
            Err(e) => Err(io(e)),
        }
    }

    /// Where the embedded default keeps its generated key.
    pub fn generated_path(data_dir: &Path) -> PathBuf {
        data_dir.join(GENERATED_FILE)
    }
}

/// Flushes `dir`'s entries to disk (`fsync` of the directory, where the platform has one).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

impl MasterKeyFormatError {
    fn into_file(self, path: &Path) -> MasterKeyFileError {
        MasterKeyFileError::Format {
            path: path.to_path_buf(),
            source: self,
        }
    }
}

#[cfg(test)]
mod tests;
