//! The second factor: TOTP (RFC 6238), recovery codes, sign-in challenges, trusted devices.
//!
//! - [`data_key`]: [`DataKey`], the key that encrypts TOTP secrets at rest and keys the
//!   recovery-code hashes.
//! - [`totp`]: secrets, `otpauth://` URIs, QR codes, code checks (the matched step is
//!   returned so the caller can make each code single-use).
//! - [`recovery`]: one-time recovery codes.
//! - [`records`]: the SQL tables (`mfa_totp`, `mfa_recovery_codes`). Every row carries the
//!   id of the data key that wrote it; a confirmed factor that names another key or does not
//!   open is [`records::Unreadable`]: sign-in refuses it (fails closed), never skips it.
//! - [`key_check`]: the start-up check that refuses to serve with a data key that cannot
//!   open the enrolled factors.
//! - [`challenge`]: the pending second step of a sign-in, in the state store.
//! - [`trusted`]: trusted-device cookies and their per-user map in the state store.

pub mod challenge;
pub mod data_key;
pub mod key_check;
pub mod records;
pub mod recovery;
pub mod totp;
pub mod trusted;

pub use data_key::DataKey;
pub use records::{MfaError, MfaRecords, Unreadable};
