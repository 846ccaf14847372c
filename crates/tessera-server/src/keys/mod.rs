//! Signing keys and the refresh-successor key on disk.
//!
//! Generated keys live in `<data dir>/keys.json`, created with mode 0600 and replaced
//! atomically (write to a temporary file, then rename). A configured PEM
//! (`signing_key_file`) replaces the generated signing keys; the refresh key still comes
//! from the key file. Every instance behind one state store must share this file (or the
//! same PEM plus the same key file).

pub mod file;
pub mod live;

pub use file::{KeyFile, KeyFileError};
pub use live::LiveKeys;
