//! Handlers, one file per area. Each parses, calls the domain, and maps the result.

pub mod admin;
pub mod auth;
pub mod federation;
pub mod health;
pub mod jwks;
pub mod me;
pub mod metadata;
pub mod mfa;
pub mod oauth2;
pub mod passkeys;
pub mod password;
pub mod prometheus;
pub mod sessions;
