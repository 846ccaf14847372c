//! `keys.json`: the persisted key ring and refresh key.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tessera_core::keys::{KeyError, KeyMaterial, KeyRing, SigningAlg, StoredKey, rotate};
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

    /// Reads the file, or creates it with a fresh `alg` key when missing. When the active
    /// key's algorithm differs from `alg`, rotates to a new `alg` key (the old key keeps
    /// verifying for `retention`). Returns the file and whether it was written.
    pub fn load_or_create(
        data_dir: &Path,
        alg: SigningAlg,
        retention: Duration,
        now: Timestamp,
    ) -> Result<Self, KeyFileError> {
        let path = Self::path(data_dir);
        match Self::read(&path)? {
            Some(mut file) => {
                let active_alg = file
                    .signing_keys
                    .iter()
                    .filter(|k| k.retired_at.is_none())
                    .max_by_key(|k| k.created_at)
                    .map(|k| k.alg);
                let mut changed = false;
                if active_alg != Some(alg) {
                    rotate(&mut file.signing_keys, alg, retention, now)?;
                    changed = true;
                }
                if file.data_key.is_none() {
                    file.data_key = Some(random_key());
                    changed = true;
                }
                if changed {
                    file.write(&path)?;
                }
                Ok(file)
            }
            None => {
                let file = KeyFile {
                    signing_keys: vec![StoredKey::generate(alg, now)?],
                    refresh_key: URL_SAFE_NO_PAD.encode(RefreshKey::generate().as_bytes()),
                    data_key: Some(random_key()),
                };
                file.write(&path)?;
                Ok(file)
            }
        }
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

    /// The key ring: from the configured PEM when given, else from this file.
    pub fn ring(
        &self,
        pem_file: Option<&Path>,
        alg: SigningAlg,
        retention: Duration,
        now: Timestamp,
    ) -> Result<KeyRing, KeyFileError> {
        match pem_file {
            Some(p) => {
                let pem = std::fs::read_to_string(p).map_err(|source| KeyFileError::Io {
                    path: p.to_path_buf(),
                    source,
                })?;
                let material = if alg == SigningAlg::HS256 {
                    KeyMaterial::HmacSecret(pem.trim().to_owned())
                } else {
                    KeyMaterial::PrivateKeyPem(pem)
                };
                let key = StoredKey::from_material(alg, material, Timestamp::from_millis(0))?;
                Ok(KeyRing::new(&[key], retention, now)?)
            }
            None => Ok(KeyRing::new(&self.signing_keys, retention, now)?),
        }
    }
}

fn random_key() -> String {
    let mut b = [0u8; 32];
    rand::fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// `tessera keys rotate`: a new active key of `alg`; the old key keeps verifying for
/// `retention`. Returns the new `kid`.
pub fn rotate_in_place(
    data_dir: &Path,
    alg: SigningAlg,
    retention: Duration,
    now: Timestamp,
) -> Result<String, KeyFileError> {
    std::fs::create_dir_all(data_dir).map_err(|source| KeyFileError::Io {
        path: data_dir.to_path_buf(),
        source,
    })?;
    let mut file = KeyFile::load_or_create(data_dir, alg, retention, now)?;
    let kid = rotate(&mut file.signing_keys, alg, retention, now)?;
    file.write(&KeyFile::path(data_dir))?;
    Ok(kid)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_output_shows_no_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::from_secs(1_000);
        let keep = Duration::from_secs(960);
        for alg in [SigningAlg::EdDSA, SigningAlg::HS256] {
            let file = KeyFile::load_or_create(dir.path(), alg, keep, now).unwrap();
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
    fn key_file_is_created_private_and_reloaded_identically() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::from_secs(1_000);
        let keep = Duration::from_secs(960);
        let a = KeyFile::load_or_create(dir.path(), SigningAlg::EdDSA, keep, now).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(KeyFile::path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let b = KeyFile::load_or_create(dir.path(), SigningAlg::EdDSA, keep, now).unwrap();
        assert_eq!(a.signing_keys, b.signing_keys);
        assert_eq!(a.refresh_key, b.refresh_key);
    }

    #[test]
    fn rotation_and_algorithm_change_keep_the_old_key_verifying() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::from_secs(1_000);
        let keep = Duration::from_secs(960);
        let a = KeyFile::load_or_create(dir.path(), SigningAlg::EdDSA, keep, now).unwrap();
        let old = a.signing_keys[0].kid.clone();
        let kid = rotate_in_place(dir.path(), SigningAlg::EdDSA, keep, now).unwrap();
        let f = KeyFile::read(&KeyFile::path(dir.path())).unwrap().unwrap();
        let ring = f.ring(None, SigningAlg::EdDSA, keep, now).unwrap();
        assert_eq!(ring.active_kid(), kid);
        assert_eq!(ring.jwks().keys.len(), 2);
        assert!(
            ring.jwks()
                .keys
                .iter()
                .any(|k| k.common.key_id.as_deref() == Some(old.as_str()))
        );
        let f = KeyFile::load_or_create(dir.path(), SigningAlg::ES256, keep, now).unwrap();
        let ring = f.ring(None, SigningAlg::ES256, keep, now).unwrap();
        assert_eq!(ring.active_alg(), SigningAlg::ES256);
        assert_eq!(ring.jwks().keys.len(), 3);
    }
}
