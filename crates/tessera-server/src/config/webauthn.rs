//! Section "passkeys": the WebAuthn relying party.

use super::file::RawConfig;
use super::value::{InvalidSetting, invalid, text};

/// `webauthn_rp_id`, `webauthn_origins`.
pub(super) struct WebAuthn {
    pub(super) webauthn_rp_id: String,
    pub(super) webauthn_origins: Vec<String>,
}

impl WebAuthn {
    /// Defaults: the issuer's host, and the issuer's origin. Checked here: every origin is
    /// an `https://` URL (or `http://` on `localhost`) whose host is the relying-party id or
    /// a subdomain of it, as browsers require.
    pub(super) fn from_raw(raw: &RawConfig, issuer: &str) -> Result<Self, InvalidSetting> {
        let issuer_url = reqwest::Url::parse(issuer)
            .map_err(|_| invalid("issuer", "not a URL, so no default relying party"))?;
        let webauthn_rp_id = match text(&raw.webauthn_rp_id) {
            Some(id) => id.to_ascii_lowercase(),
            None => issuer_url.host_str().unwrap_or_default().to_owned(),
        };
        let webauthn_origins: Vec<String> = match text(&raw.webauthn_origins) {
            Some(list) => list
                .split(',')
                .map(|s| s.trim().trim_end_matches('/').to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            None => vec![issuer_url.origin().ascii_serialization()],
        };
        if webauthn_origins.is_empty() {
            return Err(invalid("webauthn_origins", "at least one origin"));
        }
        for o in &webauthn_origins {
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
            if host != webauthn_rp_id && !host.ends_with(&format!(".{webauthn_rp_id}")) {
                return Err(invalid(
                    "webauthn_rp_id",
                    format!(
                        "{webauthn_rp_id:?} is not the host of origin {o:?} nor a parent domain of it"
                    ),
                ));
            }
        }
        Ok(Self {
            webauthn_rp_id,
            webauthn_origins,
        })
    }
}
