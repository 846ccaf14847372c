//! `keys.json`: where keys lived before they moved to the database. Read once, to import
//! an existing file into an empty database (see [`super::vault`]); never written by the
//! server any more.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
#[cfg(test)]
use tessera_core::keys::KeyMaterial;
use tessera_core::keys::{KeyError, SigningAlg, StoredKey};
use tessera_core::refresh::RefreshKey;
use tessera_core::time::Timestamp;

/// File name inside the data directory.
pub const FILE_NAME: &str = "keys.json";

/// Reading or writing the key file failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// File system.
    #[error("key file {path}: {source}")]
    Io {
        /// Which file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not valid JSON of the expected shape.
    #[error("key file {path} is corrupt: {source}")]
    Corrupt {
        /// Which file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// A key inside does not load.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The refresh key or data key is not 32 bytes of base64url.
    #[error("key file {0}: refresh_key and data_key must be 32 bytes of base64url")]
    BadRefreshKey(PathBuf),
}

/// The file's content. `Debug` shows the signing keys (their material redacted) and only
/// whether the refresh and data keys are set.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyFile {
    /// Signing keys, active and retired.
    pub signing_keys: Vec<StoredKey>,
    /// Base64url 32-byte key for refresh-token successor derivation.
    pub refresh_key: String,
    /// Base64url 32-byte data key: encrypts TOTP secrets at rest, keys recovery-code hashes.
    /// Added on first load by versions that need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_key: Option<String>,
}

impl std::fmt::Debug for KeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let KeyFile {
            signing_keys,
            refresh_key: _,
            data_key,
        } = self;
        f.debug_struct("KeyFile")
            .field("signing_keys", signing_keys)
            .field("refresh_key", &"<redacted>")
            .field("data_key", &data_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl KeyFile {
    /// Path of the key file in `data_dir`.
    pub fn path(data_dir: &Path) -> PathBuf {
        data_dir.join(FILE_NAME)
    }

    /// A fresh set: one new `alg` signing key, a new refresh key and data key (the
    /// content of the database's first ring, when there is no `keys.json` to import).
    pub fn generate(alg: SigningAlg, now: Timestamp) -> Result<Self, KeyFileError> {
        Ok(KeyFile {
            signing_keys: vec![StoredKey::generate(alg, now)?],
            refresh_key: URL_SAFE_NO_PAD.encode(RefreshKey::generate().as_bytes()),
            data_key: Some(random_key()),
        })
    }

    /// Gives a file written before data keys existed a new data key (what the server did on
    /// loading such a file, before keys moved to the database).
    pub fn with_data_key(mut self) -> Self {
        if self.data_key.is_none() {
            self.data_key = Some(random_key());
        }
        self
    }

    /// Reads the file; `None` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Self>, KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|source| KeyFileError::Corrupt {
                        path: path.to_path_buf(),
                        source,
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(e)),
        }
    }

    /// Writes atomically with mode 0600.
    pub fn write(&self, path: &Path) -> Result<(), KeyFileError> {
        let io = |source| KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let json = serde_json::to_vec_pretty(self).map_err(|source| KeyFileError::Corrupt {
            path: path.to_path_buf(),
            source,
        })?;
        let tmp = path.with_extension("json.tmp");
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).map_err(io)?;
        f.write_all(&json).map_err(io)?;
        f.sync_all().map_err(io)?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io)?;
        Ok(())
    }

    /// The refresh key.
    pub fn refresh_key(&self, path: &Path) -> Result<RefreshKey, KeyFileError> {
        let raw = URL_SAFE_NO_PAD
            .decode(self.refresh_key.trim())
            .map_err(|_| KeyFileError::BadRefreshKey(path.to_path_buf()))?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| KeyFileError::BadRefreshKey(path.to_path_buf()))?;
        Ok(RefreshKey::from_bytes(bytes))
    }

    /// The data key.
    pub fn data_key(&self, path: &Path) -> Result<crate::mfa::DataKey, KeyFileError> {
        let raw = URL_SAFE_NO_PAD
            .decode(self.data_key.as_deref().unwrap_or("").trim())
            .map_err(|_| KeyFileError::BadRefreshKey(path.to_path_buf()))?;
        let bytes: [u8; 32] = raw
            .try_into()
            .map_err(|_| KeyFileError::BadRefreshKey(path.to_path_buf()))?;
        Ok(crate::mfa::DataKey::from_bytes(bytes))
    }
}

fn random_key() -> String {
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_output_shows_no_key_material() {
        let now = Timestamp::from_secs(1_000);
        for alg in [SigningAlg::EdDSA, SigningAlg::HS256] {
            let file = KeyFile::generate(alg, now).unwrap();
            let shown = format!("{file:?} {file:#?}");
            assert!(!shown.contains(&file.refresh_key), "{shown}");
            let data_key = file.data_key.clone().unwrap();
            assert!(!shown.contains(&data_key), "{shown}");
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
            for k in &file.signing_keys {
                let (KeyMaterial::HmacSecret(secret) | KeyMaterial::PrivateKeyPem(secret)) =
                    &k.material;
                assert!(!shown.contains(secret.trim()), "{shown}");
                assert!(shown.contains(&k.kid), "kids are public: {shown}");
            }
        }
    }

    #[test]
    fn a_written_file_is_private_and_reads_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = KeyFile::path(dir.path());
        let a = KeyFile::generate(SigningAlg::EdDSA, Timestamp::from_secs(1_000)).unwrap();
        a.write(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = KeyFile::read(&path).unwrap().unwrap();
        assert_eq!(a.signing_keys, b.signing_keys);
        assert_eq!(a.refresh_key, b.refresh_key);
        assert!(b.refresh_key(&path).is_ok() && b.data_key(&path).is_ok());
        let legacy = KeyFile {
            data_key: None,
            ..b
        };
        assert!(legacy.data_key(&path).is_err());
        assert!(legacy.with_data_key().data_key(&path).is_ok());
    }
}
