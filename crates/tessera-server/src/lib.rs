//! The Tessera server: HTTP API, accounts, configuration and the `tessera` binary.
//!
//! # Layout
//! - [`config`]: file + environment configuration, validated into [`config::Settings`].
//! - [`accounts`]: users in SQL (SQLite or PostgreSQL), password hashing, email rules.
//! - [`mfa`]: the second factor (TOTP, recovery codes, challenges, trusted devices).
//! - [`limits`]: rate limiting and lockout in the state store.
//! - [`keys`]: the key file on disk and the live, reloadable key ring.
//! - [`auth`]: the sign-in, token, session, second-factor, password and admin services
//!   ([`auth::AuthServices`]).
//! - [`device`]: [`device::ClientInfo`], what a request tells about the client device.
//! - [`audit`]: the security-event trail (state store + SQL).
//! - [`http`]: axum routes, extractors and the error → problem+json table.
//! - [`app_metrics`]: the Prometheus metrics (names, labels, the recorder) behind `/metrics`.
//! - [`app`]: assembling all of it from settings; [`serve`]: running it.
//! - [`cli`]: the command line; [`admin_cli`]: its operator commands; [`telemetry`]: logging.

pub mod accounts;
pub mod admin_cli;
pub mod app;
pub mod app_metrics;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod device;
pub mod durable;
pub mod federation;
pub mod http;
pub mod keys;
pub mod limits;
pub mod mail;
pub mod mfa;
pub mod rfc3339;
pub mod serve;
pub mod telemetry;
