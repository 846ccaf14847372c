//! [`KeysError`].

/// Why keys could not be fetched or built.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// The fetch failed: connection, timeout, non-2xx status, or a body that is not a JWKS.
    #[error("cannot fetch the JWKS from {url}")]
    Fetch {
        /// The JWKS URL.
        url: String,
        /// What went wrong.
        #[source]
        source: reqwest::Error,
    },
}
