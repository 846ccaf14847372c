//! Section "passkeys": the WebAuthn relying party.

use std::net::IpAddr;

use super::file::RawConfig;
use super::value::{InvalidSetting, invalid, text};

/// The relying party: its id and the origins ceremonies may come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelyingParty {
    /// `webauthn_rp_id`.
    pub rp_id: String,
    /// `webauthn_origins`.
    pub origins: Vec<String>,
}

/// `webauthn_rp_id`, `webauthn_origins`: `None` when neither is set and the issuer gives no
/// usable default (an `http://` issuer off loopback): passkeys are then off.
pub(super) fn relying_party(
    raw: &RawConfig,
    issuer: &str,
) -> Result<Option<RelyingParty>, InvalidSetting> {
    let issuer_url = reqwest::Url::parse(issuer).ok();
    let given_id = text(&raw.webauthn_rp_id).map(|s| s.to_ascii_lowercase());
    let given_origins = text(&raw.webauthn_origins).map(|list| {
        list.split(',')
            .map(|s| s.trim().trim_end_matches('/').to_owned())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
    });
    let default = issuer_url.as_ref().and_then(default_for);
    let (rp_id, origins) = match (given_id, given_origins, default) {
        (None, None, None) => return Ok(None),
        (id, origins, default) => {
            let (did, dorigins) = default.unzip();
            let Some(rp_id) = id.or(did) else {
                return Err(invalid(
                    "webauthn_rp_id",
                    "required: the issuer gives no default (not https, nor loopback)",
                ));
            };
            let Some(origins) = origins.or(dorigins) else {
                return Err(invalid(
                    "webauthn_origins",
                    "required: the issuer gives no default (not https, nor loopback)",
                ));
            };
            (rp_id, origins)
        }
    };
    if origins.is_empty() {
        return Err(invalid("webauthn_origins", "at least one origin"));
    }
    for o in &origins {
        let url = reqwest::Url::parse(o)
            .map_err(|_| invalid("webauthn_origins", format!("{o:?}: not a URL")))?;
        let host = url.host_str().unwrap_or_default();
        let secure = url.scheme() == "https" || (url.scheme() == "http" && host == "localhost");
        if !secure {
            return Err(invalid(
                "webauthn_origins",
                format!("{o:?}: expected https:// (or http://localhost)"),
            ));
        }
        if host != rp_id && !host.ends_with(&format!(".{rp_id}")) {
            return Err(invalid(
                "webauthn_rp_id",
                format!("{rp_id:?} is not the host of origin {o:?} nor a parent domain of it"),
            ));
        }
    }
    Ok(Some(RelyingParty { rp_id, origins }))
}

/// The default relying party of an issuer: an `https://` issuer's host and origin; for a
/// loopback issuer (local development), `localhost` and `http://localhost:<port>` (browsers
/// allow WebAuthn there, and never on an IP address).
fn default_for(issuer: &reqwest::Url) -> Option<(String, Vec<String>)> {
    let host = issuer.host_str()?;
    let loopback = host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        let port = issuer.port().map(|p| format!(":{p}")).unwrap_or_default();
        return Some((
            "localhost".to_owned(),
            vec![format!("{}://localhost{port}", issuer.scheme())],
        ));
    }
    if issuer.scheme() == "https" && host.parse::<IpAddr>().is_err() {
        return Some((host.to_owned(), vec![issuer.origin().ascii_serialization()]));
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rp(
        id: Option<&str>,
        origins: Option<&str>,
        issuer: &str,
    ) -> Result<Option<RelyingParty>, InvalidSetting> {
        let raw = RawConfig {
            webauthn_rp_id: id.map(str::to_owned),
            webauthn_origins: origins.map(str::to_owned),
            ..Default::default()
        };
        relying_party(&raw, issuer)
    }

    #[test]
    fn defaults_follow_the_issuer_and_given_values_are_checked() {
        let d = rp(None, None, "https://auth.example.com").unwrap().unwrap();
        assert_eq!(d.rp_id, "auth.example.com");
        assert_eq!(d.origins, ["https://auth.example.com"]);
        let d = rp(None, None, "http://127.0.0.1:8080").unwrap().unwrap();
        assert_eq!(d.rp_id, "localhost");
        assert_eq!(d.origins, ["http://localhost:8080"]);
        assert_eq!(
            rp(None, None, "http://tessera.test").unwrap(),
            None,
            "passkeys off"
        );
        let d = rp(
            Some("example.com"),
            Some("https://app.example.com, https://example.com"),
            "http://x",
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.origins.len(), 2);
        assert!(rp(Some("example.com"), Some("https://evil.com"), "http://x").is_err());
        assert!(rp(Some("example.com"), Some("http://example.com"), "http://x").is_err());
        assert!(rp(Some("example.com"), None, "http://tessera.test").is_err());
    }
}
