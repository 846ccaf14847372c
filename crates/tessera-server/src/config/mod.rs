//! Configuration: a TOML file (`--config PATH` or `TESSERA_CONFIG`) under the environment,
//! validated into [`Settings`]. Names are part of the contract (API.md "Configuration").
//!
//! - [`names`]: the table of every setting's TOML key and environment variable, which the
//!   loader reads the environment through (tests hold it, [`RawConfig`] and the docs in
//!   agreement).
//! - [`file`]: [`RawConfig`], the settings as written (text, lenient about TOML types),
//!   every key with its default in its doc comment.
//! - [`settings`]: [`Settings`], the validated runtime form the rest of the server uses,
//!   assembled from one parser per section: `server`, `storage`, `tokens`, `sessions`,
//!   `revocation`, `logging`, `browser`, `clients`, `mail`, `network`, `mfa`,
//!   `master_key`, `oauth`.
//! - [`choice`]: settings that take one of a fixed set of words, parsed into enums;
//!   [`written`]: the raw text of such a setting, typed by what it parses into.
//! - [`effective`]: the effective configuration with secrets redacted
//!   (`tessera config check`).

mod browser;
pub mod choice;
mod clients;
mod durable;
pub mod effective;
pub mod file;
mod logging;
mod mail;
pub mod master_key;
mod mfa;
pub mod names;
mod network;
pub mod oauth;
mod revocation;
mod server;
mod sessions;
pub mod settings;
mod storage;
mod tokens;
mod value;
pub mod webauthn;
pub mod written;

pub use browser::TokenTransport;
pub use choice::{Choice, Switch, UnknownChoice};
pub use clients::{ClientCredential, MIN_ADMIN_TOKEN, MIN_CLIENT_SECRET};
pub use effective::Effective;
pub use file::{ConfigError, RawConfig};
pub use logging::LogFormat;
pub use master_key::MasterKeySetting;
pub use revocation::FailMode;
pub use settings::Settings;
pub use storage::StateStoreSettings;
pub use value::InvalidSetting;
pub use written::Written;
