//! The HTTP API (axum).
//!
//! - [`error`]: [`ApiError`] → RFC 9457 problem details; the one table from errors to
//!   statuses and `code`s.
//! - [`cookies`]: token, CSRF and fingerprint cookies.
//! - [`extract`]: request extractors (JSON body, bearer authentication, client info), each
//!   with its rejection.
//! - [`forwarded`]: the client address behind trusted reverse proxies ([`forwarded::resolve`]
//!   layer, [`forwarded::TrustedProxies`]).
//! - [`routes`]: thin handlers, one file per area.
//! - [`track`]: the metrics layer (request counts and durations by route template).
//! - [`router`]: [`router`] assembles routes and layers.

pub mod cookies;
pub mod error;
#[allow(clippy::disallowed_methods)] // extractors: an edge, read the clock and pass `now` in
pub mod extract;
pub mod forwarded;
pub mod openapi;
pub mod plain_errors;
pub mod router;
#[allow(clippy::disallowed_methods)] // handlers: an edge, read the clock and pass `now` in
pub mod routes;
pub mod track;

pub use error::ApiError;
pub use router::router;
