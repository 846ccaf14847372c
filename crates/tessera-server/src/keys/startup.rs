//! Opening the keys at start: resolving the master key, then reading (or creating, or
//! importing) the stored keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tessera_core::keys::{KeyError, KeyMaterial, KeyRing, SigningAlg, StoredKey};
use tessera_core::refresh::RefreshKey;
use tessera_core::time::Timestamp;

use super::live::LiveKeys;
use super::master::{MasterKey, MasterKeyFileError};
use super::vault::{self, KeyVault, KeyVaultError, Origin};
use crate::accounts::{Database, DbError};
use crate::config::{MasterKeySetting, Settings};
use crate::mfa::DataKey;

/// The keys could not be opened: the server refuses to start (the message names the cause).
#[derive(Debug, thiserror::Error)]
pub enum KeyStartError {
    /// `TESSERA_MASTER_KEY_FILE` or the generated key file cannot be read or is not a key.
    #[error(transparent)]
    MasterKeyFile(#[from] MasterKeyFileError),
    /// The database holds sealed keys, and this instance has no master key.
    #[error(
        "no master key: the database holds keys sealed with master key {stored}, but neither \
         TESSERA_MASTER_KEY nor TESSERA_MASTER_KEY_FILE is set and {generated} does not exist; \
         give this instance the deployment's master key"
    )]
    MissingMasterKey {
        /// Id of the master key that sealed the stored keys.
        stored: String,
        /// Where a generated key would be.
        generated: PathBuf,
    },
    /// Reading, creating or checking the stored keys.
    #[error(transparent)]
    Vault(#[from] KeyVaultError),
    /// The database, before the keys were read.
    #[error("keys in the database: {0}")]
    Db(#[from] DbError),
    /// The configured `signing_key_file`.
    #[error("signing key file {path}: {source}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A signing key does not load.
    #[error(transparent)]
    Key(#[from] KeyError),
}

/// The keys a server runs with.
pub struct StartedKeys {
    /// The signing ring in use, following the database.
    pub live: Arc<LiveKeys>,
    /// Refresh-token successor key.
    pub refresh: RefreshKey,
    /// Data key.
    pub data: DataKey,
    /// Whether the keys were found, generated or imported from `keys.json`.
    pub origin: Origin,
}

/// The master key of `setting` and a name for it in messages. With neither variable set,
/// the generated `<data_dir>/master.key`, generated now when the database holds no keys;
/// when it does, the instance is missing the deployment's key ([`KeyStartError::MissingMasterKey`]).
pub async fn master_key(
    setting: &MasterKeySetting,
    data_dir: &Path,
    db: &Database,
) -> Result<(MasterKey, String), KeyStartError> {
    match setting {
        MasterKeySetting::Value(k) => Ok((k.clone(), "TESSERA_MASTER_KEY".to_owned())),
        MasterKeySetting::File(p) => Ok((
            MasterKey::read_file(p)?,
            format!("TESSERA_MASTER_KEY_FILE ({})", p.display()),
        )),
        MasterKeySetting::Generated => {
            let path = MasterKey::generated_path(data_dir);
            let named = format!("the generated {}", path.display());
            if let Some(k) = MasterKey::read_generated(data_dir)? {
                return Ok((k, named));
            }
            if let Some(stored) = vault::sealed_with(db).await? {
                return Err(KeyStartError::MissingMasterKey {
                    stored,
                    generated: path,
                });
            }
            let key = MasterKey::generate_into(data_dir)?;
            tracing::info!(path = %path.display(), key_id = %key.id(), "master key generated");
            Ok((key, named))
        }
    }
}

/// Opens the keys for `settings` (see [`KeyVault::open_or_create`]) and logs what was done.
pub async fn open(
    settings: &Settings,
    db: &Database,
    retention: Duration,
    now: Timestamp,
) -> Result<StartedKeys, KeyStartError> {
    let (master, given_by) = master_key(&settings.master_key, &settings.data_dir, db).await?;
    let master_id = master.id();
    let vault = KeyVault::new(db.clone(), master, given_by);
    let (keys, origin) = vault
        .open_or_create(&settings.data_dir, settings.signing_alg, retention, now)
        .await?;
    let legacy = super::file::KeyFile::path(&settings.data_dir);
    match origin {
        Origin::Imported => tracing::warn!(
            file = %legacy.display(),
            "imported keys.json into the database (sealed under master key {master_id}); the \
             file is no longer read: keep it offline as a backup or delete it"
        ),
        Origin::Generated => {
            tracing::info!(master_key_id = %master_id, "keys generated into the database")
        }
        Origin::Existing if legacy.exists() => tracing::info!(
            file = %legacy.display(),
            "keys come from the database; keys.json in the data directory is not read"
        ),
        Origin::Existing => {}
    }
    let ring = ring(
        &keys.signing,
        settings.signing_key_file.as_deref(),
        settings.signing_alg,
        retention,
        now,
    )?;
    let live = LiveKeys::new(
        ring,
        vault,
        keys.generation,
        settings.signing_key_file.clone(),
        settings.signing_alg,
        retention,
    );
    Ok(StartedKeys {
        live,
        refresh: keys.refresh,
        data: keys.data,
        origin,
    })
}

/// The signing ring: the configured PEM when given, else the stored keys.
pub fn ring(
    stored: &[StoredKey],
    pem_file: Option<&Path>,
    alg: SigningAlg,
    retention: Duration,
    now: Timestamp,
) -> Result<KeyRing, KeyStartError> {
    match pem_file {
        Some(p) => {
            let pem = std::fs::read_to_string(p).map_err(|source| KeyStartError::Pem {
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
        None => Ok(KeyRing::new(stored, retention, now)?),
    }
}
