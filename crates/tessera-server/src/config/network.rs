//! Section "network": who the client is behind proxies, and whether its requests are
//! rate-limited.

use super::choice::Switch;
use super::file::RawConfig;
use super::value::{InvalidSetting, choice, invalid};
use crate::http::forwarded::TrustedProxies;

/// `trusted_proxies` (default: none), `rate_limit` (default `on`).
pub(super) struct Network {
    pub(super) trusted_proxies: TrustedProxies,
    pub(super) rate_limit: bool,
}

impl Network {
    pub(super) fn from_raw(raw: &RawConfig) -> Result<Self, InvalidSetting> {
        let trusted_proxies = TrustedProxies::parse(raw.trusted_proxies.as_deref().unwrap_or(""))
            .map_err(|e| invalid("trusted_proxies", e.to_string()))?;
        Ok(Network {
            trusted_proxies,
            rate_limit: choice("rate_limit", &raw.rate_limit, Switch::On)?.is_on(),
        })
    }
}
