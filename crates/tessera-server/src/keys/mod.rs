//! The keys every instance of a deployment shares: the signing key ring, the refresh-token
//! successor key and the data key (TOTP secrets, recovery-code hashes).
//!
//! They live in the SQL database ([`vault`]), each row sealed under the master key
//! ([`master`]: `TESSERA_MASTER_KEY`, `TESSERA_MASTER_KEY_FILE`, or the embedded default's
//! generated `<data dir>/master.key`). [`live`] holds the ring in use and follows the
//! database, so a rotation reaches every instance within seconds. [`startup`] resolves the
//! master key and opens the keys at start (importing a `keys.json` of older versions,
//! [`file`]). A configured PEM (`signing_key_file`) replaces the stored signing keys; the
//! refresh and data keys still come from the database.

pub mod file;
pub mod live;
pub mod master;
pub mod startup;
pub mod vault;

pub use file::{KeyFile, KeyFileError};
pub use live::LiveKeys;
pub use master::MasterKey;
pub use startup::{KeyStartError, StartedKeys};
pub use vault::{KeyVault, KeyVaultError};
