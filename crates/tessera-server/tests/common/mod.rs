//! Test support: servers under test and HTTP helpers.

pub mod backend;
pub mod binary;
pub mod faulty;
pub mod http;
pub mod idp;
pub mod keys;
pub mod server;
pub mod smtp;
pub mod totp;

pub use backend::Backend;
pub use http::Session;
pub use server::TestServer;

/// A password that passes the strength policy.
pub const PW: &str = "correct horse battery staple 9";

/// A unique email per call.
pub fn email(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{tag}-{}-{}@example.org",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}
