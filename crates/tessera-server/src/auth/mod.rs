//! Sign-in and tokens: the domain behind `/v1/auth/*` and `/v1/me`.
//!
//! - [`service`]: [`AuthService`], everything the handlers call, with its policy.
//! - [`error`]: [`AuthError`], one variant per outcome a client must be told about.
//! - [`register`], [`login`], [`refresh`], [`logout`]: one flow each.
//! - [`access`]: authenticating an access token (signature, claims, revocation check).
//! - [`verified`]: tokens this process already verified (skips a repeated signature check).
//! - [`profile`]: what `/v1/me` shows of an account, cached briefly.
//! - [`pair`]: [`TokenPair`] and minting it for a session.
//! - [`client`]: [`ClientInfo`], what a request tells about the device.
//! - [`fingerprint`]: binding tokens to a hardened cookie; [`csrf`]: the session-bound CSRF
//!   token of cookie transport.
//! - [`password`]: reset by mail and change; [`reset_token`]: the mailed token.
//! - [`proof`]: the password and a second-factor code, checked under the sign-in budgets.
//! - [`sessions`]: a user's sessions and tokens; [`admin`]: bans, stats, operator actions;
//!   [`mfa_reset`]: an operator removing a user's second factor.
//! - [`standing`]: sign-in and refresh re-checked against the account's durable state
//!   (ban, password, token version), closing the race with a ban or password reset.

pub mod access;
pub mod admin;
pub mod client;
pub mod csrf;
pub mod error;
pub mod fingerprint;
pub mod introspect;
pub mod login;
pub mod logout;
pub mod mfa;
pub mod mfa_reset;
pub mod pair;
pub mod password;
pub mod profile;
pub mod proof;
pub mod refresh;
pub mod register;
pub mod reset_token;
pub mod revoke;
pub mod service;
pub mod sessions;
pub mod standing;
pub mod verified;

pub use client::ClientInfo;
pub use error::AuthError;
pub use fingerprint::Fingerprint;
pub use pair::TokenPair;
pub use service::{AuthService, SessionPolicy};
