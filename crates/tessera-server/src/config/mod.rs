//! Configuration: a TOML file (`--config PATH` or `TESSERA_CONFIG`) under the environment,
//! validated into [`Settings`]. Names are part of the contract (API.md "Configuration").
//!
//! - [`file`]: [`RawConfig`], every key with its default in its doc comment.
//! - [`settings`]: [`Settings`], the validated runtime form the rest of the server uses.

pub mod file;
pub mod settings;

pub use file::RawConfig;
pub use settings::{
    ClientCredential, FailMode, LogFormat, Settings, StateStoreSettings, TokenTransport,
};
