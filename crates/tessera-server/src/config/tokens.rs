//! Section "tokens": who issues the access tokens, for whom, signed how, valid how long.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tessera_core::keys::SigningAlg;
use tessera_core::keys::alg::UnknownAlg;

use super::file::RawConfig;
use super::value::{InvalidSetting, duration, invalid};

/// `issuer`, `audience`, `signing_alg`, `signing_key_file`, `access_token_ttl`.
pub(super) struct Tokens {
    pub(super) issuer: String,
    pub(super) audience: String,
    pub(super) signing_alg: SigningAlg,
    pub(super) signing_key_file: Option<PathBuf>,
    pub(super) access_token_ttl: Duration,
}

impl Tokens {
    /// Defaults: issuer `http://<listen>` (a trailing `/` is dropped from a given one),
    /// audience `tessera`, `EdDSA`, generated keys, `15m` (accepted: 10s–24h).
    pub(super) fn from_raw(raw: &RawConfig, listen: SocketAddr) -> Result<Self, InvalidSetting> {
        let issuer = raw
            .issuer
            .as_deref()
            .map(|s| s.trim_end_matches('/').to_owned())
            .unwrap_or_else(|| format!("http://{listen}"));
        let signing_alg = raw
            .signing_alg
            .as_deref()
            .unwrap_or("EdDSA")
            .parse()
            .map_err(|e: UnknownAlg| invalid("signing_alg", e.to_string()))?;
        let access_token_ttl = duration("access_token_ttl", &raw.access_token_ttl, "15m")?;
        if access_token_ttl < Duration::from_secs(10)
            || access_token_ttl > Duration::from_secs(86_400)
        {
            return Err(invalid("access_token_ttl", "must be between 10s and 24h"));
        }
        Ok(Tokens {
            issuer,
            audience: raw.audience.clone().unwrap_or_else(|| "tessera".to_owned()),
            signing_alg,
            signing_key_file: raw.signing_key_file.clone(),
            access_token_ttl,
        })
    }
}
