//! `tessera-guard`: accept Tessera access tokens in your own Rust service.
//!
//! A request is accepted when its `Authorization: Bearer` token passes **the same
//! verification rules as the Tessera server** (tessera-core's [`Verifier`], here fed by a
//! JWKS cache through [`VerificationKeys`]) and **the same revocation check** (the store's own
//! `check_access`: one pipeline of reads on the same Redis, one round trip). A near-cache
//! remembers tokens already seen live, so a repeat costs only its signature check; it is kept
//! coherent by the revocation notices every Tessera revocation publishes on Redis pub/sub
//! (see [`tessera_store::redis::invalidation`]), and is flushed and bypassed whenever the
//! subscription is not known to be up — a missed notice can never let a revoked token in.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tessera_guard::{Authenticated, Guard, GuardConfig, KeySource};
//! use tessera_store::redis::RedisConfig;
//!
//! async fn me(Authenticated(claims): Authenticated) -> String {
//!     format!("hello {}", claims.sub)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::connect(GuardConfig::new(
//!     "http://localhost:8080",                                   // iss
//!     "tessera",                                                 // aud
//!     KeySource::jwks("http://localhost:8080/.well-known/jwks.json"),
//!     RedisConfig::standalone("redis://127.0.0.1:6379"),
//! ))
//! .await?;
//! let app: Router = Router::new().route("/me", get(me)).layer(guard.layer());
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - [`config`]: [`GuardConfig`], [`KeySource`], [`NearCacheConfig`], [`FailMode`].
//! - [`keys`]: [`KeySet`] (JWKS → keys) and [`JwksKeys`] (fetched with reqwest, refreshed on an
//!   unknown `kid` at most once per interval).
//! - `cache`: the near-cache (jti → live until `exp`) and its coherence rules.
//! - `subscriber`: the pub/sub task that applies revocation notices and detects drops.
//! - `verified`: [`VerifiedToken`], a token that passed (claims + raw token).
//! - [`guard`]: [`Guard`], the one entry point: verify, then near-cache or store. It holds the
//!   store only as [`RevocationCheck`](tessera_store::RevocationCheck): nothing that writes.
//! - [`extract`]: [`Authenticated`], the axum extractor, with typed claims ([`GuardClaims`]).
//! - [`layer`]: [`GuardLayer`], the tower layer that refuses unauthenticated requests, and
//!   [`Guard::layer`].
//!
//! Dependencies between these go one way: `verified` ← `guard` ← `extract`, `layer` (and
//! `extract`, `layer` use `verified`); `guard` imports neither `extract` nor `layer`.
//! - [`error`]: [`GuardError`] (why a request is refused, with its HTTP response) and
//!   [`BuildError`].
//!
//! [`Verifier`]: tessera_core::token::Verifier
//! [`VerificationKeys`]: tessera_core::keys::VerificationKeys

mod cache;
pub mod config;
pub mod error;
#[allow(clippy::disallowed_methods)] // the axum extractor: an edge, reads the clock
pub mod extract;
pub mod guard;
pub mod keys;
#[allow(clippy::disallowed_methods)] // the tower layer: an edge, reads the clock
pub mod layer;
mod subscriber;
mod verified;

pub use config::{FailMode, GuardConfig, KeySource, NearCacheConfig};
pub use error::{BuildError, GuardError};
pub use extract::{Authenticated, GuardClaims};
pub use guard::{Guard, GuardStats};
pub use keys::{JwksKeys, KeySet, KeysError};
pub use layer::{GuardLayer, GuardService};
pub use tessera_core::token::AccessClaims;
pub use tessera_store::RevocationMode;
pub use verified::VerifiedToken;
