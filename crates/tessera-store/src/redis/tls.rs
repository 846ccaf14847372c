//! TLS (`rediss://`): which certificate authorities the client trusts.
//!
//! By default redis-rs (rustls) trusts the system's root store. With
//! [`RedisConfig::tls_ca_file`](super::RedisConfig::tls_ca_file) set, it trusts only the
//! CA certificates in that PEM file — the usual setup for a Redis with certificates from a
//! private CA. A server whose certificate does not chain to a trusted CA, or does not name
//! the host in the URL, is refused: the connect fails (`invalid peer certificate: …`).
//! The process must have installed its rustls crypto provider (the server does at startup).

use std::path::Path;

use redis::TlsCertificates;

/// Reads `path` as the CA bundle to trust. The error names the file and what is wrong.
pub fn tls_certificates(path: &Path) -> Result<TlsCertificates, TlsCaError> {
    let pem = std::fs::read(path).map_err(|e| {
        TlsCaError(format!(
            "cannot read the Redis TLS CA file {}: {e}",
            path.display()
        ))
    })?;
    if !pem
        .windows(b"-----BEGIN CERTIFICATE-----".len())
        .any(|w| w == b"-----BEGIN CERTIFICATE-----")
    {
        return Err(TlsCaError(format!(
            "the Redis TLS CA file {} holds no PEM certificate",
            path.display()
        )));
    }
    Ok(TlsCertificates {
        client_tls: None,
        root_cert: Some(pem),
    })
}

/// Why a TLS CA file cannot be used (the message names the file and holds no secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsCaError(pub String);

/// True for a `rediss://` URL.
pub(crate) fn is_tls_url(url: &str) -> bool {
    url.get(..9)
        .is_some_and(|s| s.eq_ignore_ascii_case("rediss://"))
}
