//! Extractors. Each rejects with an [`ApiError`](super::ApiError), so every failure is
//! problem+json.
//!
//! - [`json`]: [`ApiJson`], a JSON body with 400/413/415/422 problems.
//! - [`admin`]: [`Admin`], the admin token.
//! - [`bearer`]: [`Authenticated`], the verified, live access token of the caller.
//! - [`refresh`]: [`PresentedRefresh`], the refresh token from the body or from the cookie
//!   (then with the CSRF check).
//! - [`client`]: [`Client`], user agent and client address (and the
//!   [`ClientInfo`](crate::device::ClientInfo) built from them).
//! - [`client_auth`]: [`ClientForm`](client_auth::ClientForm), an authenticated
//!   introspection client and its form.

pub mod admin;
pub mod bearer;
pub mod client;
pub mod client_auth;
pub mod json;
pub mod refresh;

pub use admin::Admin;
pub use bearer::Authenticated;
pub use client::Client;
pub use client_auth::Clients;
pub use json::ApiJson;
pub use refresh::PresentedRefresh;
